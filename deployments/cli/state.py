"""The runtime a command works with, carried on the Typer context."""

from __future__ import annotations

import typer

from deployments.bootstrap import Runtime, bootstrap


def runtime(ctx: typer.Context, *, reading: bool = False) -> Runtime:
    """The runtime of this invocation. ``reading``: the command only reads the database, so
    a SQLite file that is not there is an error (exit 4), not a new empty database."""
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = bootstrap()
    if reading:
        root.obj.require_database()
    return root.obj
