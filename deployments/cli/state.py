"""The runtime a command works with, carried on the Typer context."""

from __future__ import annotations

import typer

from deployments.bootstrap import Runtime, bootstrap


def runtime(ctx: typer.Context) -> Runtime:
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = bootstrap()
    return root.obj
