"""`caseflow db`: the database schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from deployments.cli.output import emit_json, json_option
from deployments.cli.state import runtime

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

app = typer.Typer(help="The database: create or migrate its schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Create or migrate the schema to the newest revision (idempotent, any URL)."""
    from models.schema import current_revision
    from models.schema import upgrade as run_upgrade

    revisions: list[str | None] = []

    def migrate(engine: Engine) -> None:
        revisions.append(current_revision(engine))
        run_upgrade(engine)
        revisions.append(current_revision(engine))

    runtime(ctx).open_database(migrate)
    before, after = revisions
    if as_json:
        emit_json({"from": before, "to": after})
    else:
        typer.echo(f"schema at revision {after}" + ("" if before == after else
                                                    f" (was {before or 'empty'})"))
