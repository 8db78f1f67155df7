"""`caseflow serve`: the HTTP API under /api and the pages under /, with uvicorn."""

from __future__ import annotations

import typer

from deployments.cli.state import runtime


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the API (/api, /openapi.json) and the pages (/) for clerks and supervisors."""
    import uvicorn

    from deployments.api.app import create_app

    rt = runtime(ctx)
    rt.engine  # noqa: B018 - migrate (or refuse) before listening, not on the first request
    typer.echo(f"caseflow serving {rt.db_url} on http://{host}:{port}/ (API under /api)")
    # warnings only, and no access log: a line per request is the proxy's job, not ours
    uvicorn.run(create_app(rt), host=host, port=port, log_level="warning", access_log=False)
