"""`caseflow db`: the database schema."""

from __future__ import annotations

import typer

from deployments.cli.output import emit_json, json_option
from deployments.cli.state import runtime

app = typer.Typer(help="The database: create or migrate its schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Create or migrate the schema to the newest revision (idempotent, any URL)."""
    from models.engine import create_engine
    from models.schema import current_revision
    from models.schema import upgrade as run_upgrade

    engine = create_engine(runtime(ctx).db_url)
    before = current_revision(engine)
    run_upgrade(engine)
    after = current_revision(engine)
    if as_json:
        emit_json({"from": before, "to": after})
    else:
        typer.echo(f"schema at revision {after}" + ("" if before == after else
                                                    f" (was {before or 'empty'})"))
