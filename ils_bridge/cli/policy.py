"""`ils-bridge policy`: validate, show, explain, diff, simulate, apply, history, rollback."""

from __future__ import annotations

import click

from ils_bridge.cli.common import Group


@click.group(cls=Group)
def commands() -> None:
    """Manage the library's circulation policy."""


commands.name = "policy"
