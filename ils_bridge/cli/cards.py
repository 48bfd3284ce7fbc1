"""`ils-bridge cards`: issue, renew, report lost, replace, group cards, history."""

from __future__ import annotations

import datetime as dt

import click

from ils_bridge.cli.common import CliContext, Group, emit, finish, pass_cli
from ils_bridge.cli.options import (
    DATE,
    at_option,
    call_options,
    confirm,
    in_library_time,
    yes_option,
)
from ils_bridge.cli.tables import print_table, result
from ils_bridge.services import reports


@click.group("cards", cls=Group)
def commands() -> None:
    """Library cards: the fee and validity come from the policy's card kinds."""


@commands.command()
@click.argument("patron")
@click.argument("number")
@click.option("--kind", help="Card kind from the policy (default: its first kind).")
@click.option("--valid-until", type=DATE, help="Last valid day (needed where staff set validity).")
@click.option("--payment-type", default="cash", show_default=True, help="How the card fee is paid.")
@at_option
@pass_cli
def issue(cli: CliContext, patron: str, number: str, kind: str | None, valid_until: dt.date | None,
          payment_type: str, at: dt.datetime | None) -> None:
    """Issue a card to a patron, charging and taking the card fee.

    \b
    Example:
      ils-bridge cards issue 20230001 C20230001 --valid-until 2027-07-01
    """
    lib = cli.library()
    out = lib.issue_card(patron, number, kind=kind, valid_until=valid_until, payment_type=payment_type,
                         **call_options(lib, at))
    finish(cli, out, lambda o: result(f"card {number} issued to {patron}, valid until {o.data['valid_until']}", o))


@commands.command()
@click.argument("card")
@click.option("--valid-until", type=DATE, help="New last valid day (default: the kind's validity).")
@pass_cli
def renew(cli: CliContext, card: str, valid_until: dt.date | None) -> None:
    """Extend a card's validity (charging the card fee).

    \b
    Example:
      ils-bridge cards renew C20230001 --valid-until 2028-07-01
    """
    lib = cli.library()
    finish(cli, lib.renew_card(card, valid_until=valid_until, **call_options(lib)),
           lambda o: result(f"card {card} valid until {o.data['valid_until']}", o))


@commands.command("report-lost")
@click.argument("card")
@yes_option
@pass_cli
def report_lost(cli: CliContext, card: str, yes: bool) -> None:
    """Block a lost card at once: nobody can borrow on it any more.

    \b
    Example:
      ils-bridge cards report-lost C20230001 --yes
    """
    lib = cli.library()
    confirm(yes, f"Block card {card} as lost?")
    finish(cli, lib.report_card_lost(card, **call_options(lib)), lambda o: result(f"card {card} blocked as lost", o))


@commands.command()
@click.argument("card")
@click.option("--new-number", help="The new card's number (where the policy issues a new number).")
@yes_option
@pass_cli
def replace(cli: CliContext, card: str, new_number: str | None, yes: bool) -> None:
    """Replace a lost or damaged card; the old card stays in the history.

    \b
    Examples:
      ils-bridge cards replace C20230001 --yes                      # same number
      ils-bridge cards replace C20230001 --new-number C20230001-2   # new number
    """
    lib = cli.library()
    confirm(yes, f"Replace card {card} (the old card stops working)?")
    out = lib.replace_card(card, new_number=new_number, **call_options(lib))
    finish(cli, out, lambda o: result(f"card {card} replaced by {o.data['number']}", o))


@commands.command()
@click.argument("organisation")
@click.argument("number")
@click.option("--members", type=click.IntRange(min=1), required=True, help="How many people the card covers.")
@click.option("--approver", help="Who approved the small-group discount, where the policy needs it.")
@pass_cli
def group(cli: CliContext, organisation: str, number: str, members: int, approver: str | None) -> None:
    """Issue an organisation's group card (the organisation is registered as a patron first).

    \b
    Example:
      ils-bridge cards group ORG-017 G017 --members 12 --approver "director Tran"
    """
    lib = cli.library()
    out = lib.issue_group_card(organisation, number, members=members, approver=approver, **call_options(lib))
    finish(cli, out, lambda o: result(f"group card {number} issued to {organisation} for {members} members", o))


@commands.command()
@click.argument("patron")
@pass_cli
def history(cli: CliContext, patron: str) -> None:
    """Every card a patron has held, with what replaced what.

    \b
    Example:
      ils-bridge cards history 20230001
    """
    lib = cli.library()
    rows = in_library_time(lib, reports.card_history(lib, patron))
    emit(cli, rows, lambda data: print_table(f"Cards of {patron}", [
        ("number", "number"), ("kind", "kind"), ("status", "status"), ("issued", "issued_at"),
        ("valid until", "valid_until"), ("replaces", "replaces"), ("changed", "status_changed_at"), ("note", "note")], data))
