"""`ils-bridge jobs run`: the daily jobs (hold shelf expiry, overdue notices, deposit deductions)."""

from __future__ import annotations

import datetime as dt

import click

from ils_bridge.cli.common import CliContext, Group, finish, pass_cli
from ils_bridge.cli.options import at_option, call_options
from ils_bridge.cli.tables import done
from ils_bridge.outcome import Outcome


@click.group("jobs", cls=Group)
def commands() -> None:
    """Time-based jobs: run them once a day (cron, a systemd timer)."""


@commands.command()
@at_option
@pass_cli
def run(cli: CliContext, at: dt.datetime | None) -> None:
    """Run the daily jobs; running them twice on the same day does nothing twice.

    \b
    Examples:
      ils-bridge jobs run
      ils-bridge --json jobs run          # in cron, for a machine-readable log
    """
    lib = cli.library()

    def render(outcome: Outcome) -> None:
        data = outcome.data
        done(f"hold shelf: {data['shelf_expired']} expired, {data['lapsed']} lapsed; "
             f"loans: {data['overdue']} overdue, {data['due_soon']} due soon; "
             f"{len(data['deposit_deductions'])} deposit deductions")

    finish(cli, lib.run_jobs(**call_options(lib, at)), render)
