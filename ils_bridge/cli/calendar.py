"""`ils-bridge calendar`: closed days (holidays, vacations, one-off closures)."""

from __future__ import annotations

import datetime as dt

import click

from ils_bridge.cli.common import CliContext, Group, emit, finish, pass_cli
from ils_bridge.cli.options import DATE, call_options
from ils_bridge.cli.tables import print_table, result
from ils_bridge.services import reports


@click.group("calendar", cls=Group)
def commands() -> None:
    """The library's closed days.  Weekly closed days live in the policy; dated closures are added here."""


@commands.command("add-closure")
@click.argument("start", type=DATE)
@click.argument("end", type=DATE, required=False)
@click.option("--kind", type=click.Choice(["holiday", "vacation", "closed"]), required=True,
              help="holiday and vacation may carry grace days in the policy; closed is a one-off closure.")
@click.option("--name", default="", help="What it is called (shown in notices and lists).")
@pass_cli
def add_closure(cli: CliContext, start: dt.date, end: dt.date | None, kind: str, name: str) -> None:
    """Close the library from START to END (inclusive; one day if END is left out).

    Loans falling due on a closed day are due on the next open day.

    \b
    Examples:
      ils-bridge calendar add-closure 2027-01-01 --kind holiday --name "New Year"
      ils-bridge calendar add-closure 2027-01-16 2027-02-21 --kind vacation --name "winter vacation"
    """
    lib = cli.library()
    finish(cli, lib.add_closure(start, end or start, kind, name, **call_options(lib)),
           lambda o: result(f"closed {start} to {end or start} ({kind})", o))


@commands.command("list")
@click.option("--since", type=DATE, help="Only closures ending on or after this day.")
@pass_cli
def list_closures(cli: CliContext, since: dt.date | None) -> None:
    """List closures, from the policy and added here.

    \b
    Example:
      ils-bridge calendar list --since 2026-09-01
    """
    rows = reports.closures(cli.library(), since=since)
    emit(cli, rows, lambda data: print_table("Closures", [
        ("from", "start"), ("to", "end"), ("kind", "kind"), ("name", "name"), ("source", "source")], data))
