"""`ils-bridge patrons`: register, approve, show, block, ban, PINs, clearance, list, history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ils_bridge.cli.common import CliContext, CliError, Group, emit, finish, pass_cli
from ils_bridge.cli.options import (
    DATE,
    at_option,
    call_options,
    confirm,
    in_library_time,
    local_time,
    yes_option,
)
from ils_bridge.cli.tables import print_fields, print_table, result
from ils_bridge.services import reports


@click.group("patrons", cls=Group)
def commands() -> None:
    """Patrons: registration, accounts, blocks and bans, PINs, clearance.

    A patron is named by their patron number or any of their card numbers.
    """


@commands.command()
@click.argument("number")
@click.argument("name")
@click.option("--type", "patron_type", required=True, help="Patron type from the policy's vocabulary (e.g. phd).")
@click.option("--group", "patron_group", help="Patron group from the policy's vocabulary.")
@click.option("--email")
@click.option("--phone")
@click.option("--language", help="Notice language (default: the library's).")
@click.option("--field", help="Discipline, for ILL subsidy decisions.")
@click.option("--birth-date", type=DATE)
@click.option("--external-id", help="The patron's id in the host platform.")
@click.option("--parent", help="The organisation (patron) whose group card this patron belongs to.")
@at_option
@pass_cli
def register(cli: CliContext, number: str, name: str, at: dt.datetime | None, **details: Any) -> None:
    """Register a patron (active at once, or pending approval if the policy says so).

    \b
    Example:
      ils-bridge patrons register 20230001 "Li Wei" --type phd --email li.wei@example.edu
    """
    lib = cli.library()
    patron_type = details.pop("patron_type")
    out = lib.register_patron(number, name, patron_type, **details, **call_options(lib, at))
    finish(cli, out, lambda o: result(f"patron {number} registered, {o.data['status']}", o))


@commands.command()
@click.argument("patron")
@click.option("--approver", required=True, help="The librarian approving the registration.")
@pass_cli
def approve(cli: CliContext, patron: str, approver: str) -> None:
    """Approve an online registration that is pending.

    \b
    Example:
      ils-bridge patrons approve 20230001 --approver "Zhang Min"
    """
    lib = cli.library()
    finish(cli, lib.approve_patron(patron, approver=approver, **call_options(lib)),
           lambda o: result(f"patron {patron} approved", o))


@commands.command()
@click.argument("patron")
@at_option
@pass_cli
def show(cli: CliContext, patron: str, at: dt.datetime | None) -> None:
    """Show a patron's account: card, standing, loans, holds and fees.

    \b
    Example:
      ils-bridge patrons show 20230001
    """
    lib = cli.library()
    emit(cli, in_library_time(lib, lib.patron_account(patron, at=local_time(lib, at))), render_account)


def render_account(account: dict[str, Any]) -> None:
    card = account["card"] or {}
    standing = account["standing"]
    print_fields(f"{account['name']} ({account['number']})", [
        ("type", account["patron_type"]), ("group", account["patron_group"]), ("status", account["status"]),
        ("standing", f"{standing['reason']}: {standing['message']}" if standing else "may borrow"),
        ("card", f"{card.get('number')} {card.get('kind')} {card.get('status')} until {card.get('valid_until')}" if card else "none"),
        ("package", account["package"]), ("banned until", account["banned_until"]),
        ("fees owed", f"{account['fees_owed']} {account['currency']}"), ("deposit", f"{account['deposit']} {account['currency']}"),
        ("email", account["email"]), ("phone", account["phone"]), ("PIN set", account["pin_set"]),
    ])
    print_table("Loans", [("item", "item"), ("title", "title"), ("due", "due"), ("overdue", "overdue"),
                          ("renewals", "renewals"), ("recalled", "recalled"), ("fine so far", "accruing_fine")],
                account["loans"])
    print_table("Holds", [("hold", "hold_id"), ("title", "title"), ("status", "status"), ("item", "item"),
                          ("pick up by", "shelf_expires_on")], account["holds"])
    print_table("Open fees", [("fee", "fee_id"), ("type", "type"), ("amount", "amount"), ("outstanding", "outstanding"),
                              ("charged", "created_at")], account["fees"])


@commands.command()
@click.argument("patron")
@click.option("--reason", required=True, help="Why the patron is blocked (shown to staff).")
@pass_cli
def block(cli: CliContext, patron: str, reason: str) -> None:
    """Block a patron from borrowing until unblocked.

    \b
    Example:
      ils-bridge patrons block 20230001 --reason "unpaid damage"
    """
    lib = cli.library()
    finish(cli, lib.block_patron(patron, reason, **call_options(lib)), lambda o: result(f"patron {patron} blocked", o))


@commands.command()
@click.argument("patron")
@pass_cli
def unblock(cli: CliContext, patron: str) -> None:
    """Lift a patron's block.

    \b
    Example:
      ils-bridge patrons unblock 20230001
    """
    lib = cli.library()
    finish(cli, lib.unblock_patron(patron, **call_options(lib)), lambda o: result(f"patron {patron} unblocked", o))


@commands.command()
@click.argument("patron")
@click.option("--months", type=click.IntRange(min=1), help="Length of the ban (the policy bounds it).")
@click.option("--until", type=DATE, help="Last day of the ban, instead of --months.")
@click.option("--reason", required=True)
@click.option("--confiscate-card", is_flag=True, help="Mark the patron's card confiscated.")
@yes_option
@pass_cli
def ban(cli: CliContext, patron: str, months: int | None, until: dt.date | None, reason: str, confiscate_card: bool,
        yes: bool) -> None:
    """Ban a patron from borrowing for some months or until a date.

    \b
    Example:
      ils-bridge patrons ban 20230001 --months 3 --reason "gate alarm: theft" --confiscate-card --yes
    """
    if (months is None) == (until is None):
        raise CliError("give either --months or --until")
    lib = cli.library()
    confirm(yes, f"Ban patron {patron} ({f'{months} months' if months else f'until {until}'})"
                 f"{' and confiscate the card' if confiscate_card else ''}?")
    out = lib.ban_patron(patron, reason=reason, months=months, until=until, confiscate_card=confiscate_card,
                         **call_options(lib))
    finish(cli, out, lambda o: result(f"patron {patron} banned until {o.data['banned_until']}", o))


@commands.command("set-pin")
@click.argument("patron")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new PIN (asked for, hidden, when not given).")
@pass_cli
def set_pin(cli: CliContext, patron: str, pin: str) -> None:
    """Set a patron's PIN for self-check and the OPAC.

    \b
    Examples:
      ils-bridge patrons set-pin 20230001            # asks twice, hidden
      ils-bridge patrons set-pin 20230001 --pin 4821
    """
    lib = cli.library()
    finish(cli, lib.set_pin(patron, pin, **call_options(lib)), lambda o: result(f"PIN set for {patron}", o))


@commands.command()
@click.argument("patron")
@click.option("--mark-left", is_flag=True, help="If clear, record that the patron has left the library.")
@yes_option
@pass_cli
def clearance(cli: CliContext, patron: str, mark_left: bool, yes: bool) -> None:
    """Check that everything is returned and paid (to graduate, retire or leave).

    Exits 1 and says what is outstanding when the patron is not clear.

    \b
    Examples:
      ils-bridge patrons clearance 20230001
      ils-bridge patrons clearance 20230001 --mark-left --yes
    """
    lib = cli.library()
    if mark_left:
        confirm(yes, f"If patron {patron} is clear, mark them as having left?")
    out = lib.clearance(patron, mark_left=mark_left, **call_options(lib))
    finish(cli, out, lambda o: result(f"patron {patron} is clear" + (" and marked as left" if mark_left else ""), o))


@commands.command("list")
@click.option("--status", type=click.Choice(reports.PATRON_STATUSES), help="Only patrons with this status.")
@click.option("--type", "patron_type", help="Only patrons of this type.")
@pass_cli
def list_patrons(cli: CliContext, status: str | None, patron_type: str | None) -> None:
    """List patrons, e.g. the online registrations waiting for approval.

    \b
    Example:
      ils-bridge patrons list --status pending
    """
    lib = cli.library()
    rows = in_library_time(lib, reports.patrons(lib, status=status, patron_type=patron_type))
    emit(cli, rows, lambda data: print_table("Patrons", [
        ("number", "number"), ("name", "name"), ("type", "patron_type"), ("group", "patron_group"),
        ("status", "status"), ("blocked", "blocked"), ("banned until", "banned_until")], data))


@commands.command()
@click.argument("patron")
@click.option("--limit", type=click.IntRange(min=1), help="Only the latest N events.")
@pass_cli
def history(cli: CliContext, patron: str, limit: int | None) -> None:
    """A patron's history, newest first: loans, returns, refusals, charges and payments.

    \b
    Example:
      ils-bridge patrons history 20230001 --limit 20
    """
    lib = cli.library()
    rows = in_library_time(lib, reports.patron_history(lib, patron, limit=limit))
    emit(cli, rows, lambda data: print_table(f"History of {patron}", [
        ("when", "at"), ("what", "what"), ("item", "item"), ("amount", "amount"), ("detail", "detail"),
        ("rule", "rule")], data))
