"""`ils-bridge desk`: circulation at the service desk.

Check out, check in, renew, holds and recalls, lost, found, damaged and
stolen items.  Several barcodes may be given at once (a pile of returns);
each is its own transaction, and the command exits 1 if any was refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import click

from ils_bridge.cli.common import (
    EXIT_REFUSED,
    CliContext,
    CliError,
    Group,
    finish,
    pass_cli,
    to_jsonable,
)
from ils_bridge.cli.options import (
    DATE,
    DECIMAL,
    TIME,
    at_option,
    call_options,
    confirm,
    local_time,
    read_text_file,
    yes_option,
)
from ils_bridge.cli.tables import done, progress, result, warn
from ils_bridge.outcome import Outcome

PROGRESS_FROM = 5  # show a progress bar from this many barcodes on


@click.group("desk", cls=Group)
def commands() -> None:
    """Circulation at the desk: check out, check in, renew, holds, recalls, lost and damaged items.

    Patrons are named by patron number or card number, items by barcode.
    """


def each_item(cli: CliContext, barcodes: list[str], label: str, act: Callable[[str], Outcome]) -> None:
    """Act on each barcode in turn; print each result, then fail if any was refused."""
    if not barcodes:
        raise CliError("give at least one barcode")
    if len(barcodes) == 1:
        finish(cli, act(barcodes[0]), lambda o: result(f"{label} {barcodes[0]}", o))
        return
    outcomes = []
    for barcode in progress(barcodes, label, show=not cli.json and len(barcodes) >= PROGRESS_FROM):
        outcome = act(barcode)
        outcomes.append((barcode, outcome))
        if not cli.json:
            if outcome.ok:
                result(f"{label} {barcode}", outcome)
            else:
                warn(f"{barcode}: {outcome.reason.value}: {outcome.message}")
    if cli.json:
        click.echo(json.dumps(to_jsonable([dict(o.to_json(), item=b) for b, o in outcomes]), ensure_ascii=False))
    refused = [b for b, o in outcomes if not o.ok]
    if refused:
        raise CliError(f"{len(refused)} of {len(outcomes)} refused: {', '.join(refused)}", EXIT_REFUSED)


@commands.command()
@click.argument("patron")
@click.argument("items", nargs=-1, required=True)
@click.option("--renew-if-own", is_flag=True, help="Renew an item the patron already has instead of refusing.")
@at_option
@pass_cli
def checkout(cli: CliContext, patron: str, items: tuple[str, ...], renew_if_own: bool, at: dt.datetime | None) -> None:
    """Lend one or more items to a patron.

    \b
    Examples:
      ils-bridge desk checkout 20230001 X0001
      ils-bridge desk checkout C20230001 X0001 X0002 X0003
    """
    lib = cli.library()
    each_item(cli, list(items), "checked out",
              lambda item: lib.checkout(patron, item, renew_if_own=renew_if_own, **call_options(lib, at)))


@commands.command()
@click.argument("items", nargs=-1)
@click.option("--from-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read barcodes from a file, one a line (a book drop, a sorter bin).")
@click.option("--returned-at", type=TIME, help="When the items were actually returned (e.g. found in the book drop).")
@at_option
@pass_cli
def checkin(cli: CliContext, items: tuple[str, ...], from_file: Path | None, returned_at: dt.datetime | None,
            at: dt.datetime | None) -> None:
    """Return items: closes the loan, charges any overdue fine, and traps the copy for the next hold.

    \b
    Examples:
      ils-bridge desk checkin X0001
      ils-bridge desk checkin --from-file bookdrop.txt --returned-at 2026-10-08T08:00
    """
    barcodes = list(items)
    if from_file is not None:
        barcodes += [line.strip() for line in read_text_file(from_file).splitlines() if line.strip()]
    lib = cli.library()
    returned = local_time(lib, returned_at)
    each_item(cli, barcodes, "checked in",
              lambda item: lib.checkin(item, returned_at=returned, **call_options(lib, at)))


@commands.command()
@click.argument("patron")
@click.argument("item")
@at_option
@pass_cli
def renew(cli: CliContext, patron: str, item: str, at: dt.datetime | None) -> None:
    """Renew one loan.

    \b
    Example:
      ils-bridge desk renew 20230001 X0001
    """
    lib = cli.library()
    finish(cli, lib.renew(patron, item, **call_options(lib, at)), lambda o: result(f"{item} renewed", o))


@commands.command("renew-all")
@click.argument("patron")
@at_option
@pass_cli
def renew_all(cli: CliContext, patron: str, at: dt.datetime | None) -> None:
    """Renew every loan that may be renewed, and say which could not be.

    \b
    Example:
      ils-bridge desk renew-all 20230001
    """
    lib = cli.library()

    def render(outcome: Outcome) -> None:
        for loan in outcome.data["renewed"]:
            done(f"{loan['item']} renewed, due {loan['due']}")
        for loan in outcome.data["refused"]:
            warn(f"{loan['item']} not renewed: {loan['reason']}: {loan['message']}")
        if not outcome.data["renewed"] and not outcome.data["refused"]:
            done("the patron has nothing on loan")

    finish(cli, lib.renew_all(patron, **call_options(lib, at)), render)


@commands.command()
@click.argument("patron")
@click.option("--item", help="Hold this copy (barcode).")
@click.option("--title-id", type=int, help="Hold any copy of this title.")
@click.option("--lapse-on", type=DATE, help="The patron no longer wants it after this day.")
@click.option("--pickup-branch")
@pass_cli
def hold(cli: CliContext, patron: str, item: str | None, title_id: int | None, lapse_on: dt.date | None,
         pickup_branch: str | None) -> None:
    """Place a hold for a patron on a copy or a title.

    \b
    Examples:
      ils-bridge desk hold 20230001 --item X0001
      ils-bridge desk hold 20230001 --title-id 42 --lapse-on 2026-12-31
    """
    if (item is None) == (title_id is None):
        raise CliError("give either --item or --title-id")
    lib = cli.library()
    out = lib.place_hold(patron, item=item, title_id=title_id, lapse_on=lapse_on, pickup_branch=pickup_branch,
                         **call_options(lib))
    finish(cli, out, lambda o: result(f"hold {o.data.get('hold_id')} placed for {patron}", o))


@commands.command("cancel-hold")
@click.argument("patron")
@click.option("--hold-id", type=int, help="The hold's id (see patrons show).")
@click.option("--item", help="The hold on this copy's title.")
@pass_cli
def cancel_hold(cli: CliContext, patron: str, hold_id: int | None, item: str | None) -> None:
    """Cancel one of a patron's holds.

    \b
    Example:
      ils-bridge desk cancel-hold 20230001 --hold-id 7
    """
    if (item is None) == (hold_id is None):
        raise CliError("give either --hold-id or --item")
    lib = cli.library()
    finish(cli, lib.cancel_hold(patron, hold_id=hold_id, item=item, **call_options(lib)),
           lambda o: result(f"hold {o.data['hold_id']} cancelled", o))


@commands.command()
@click.argument("item")
@click.option("--new-due", type=DATE, help="Bring the due date forward to this day.")
@pass_cli
def recall(cli: CliContext, item: str, new_due: dt.date | None) -> None:
    """Recall a loaned item (the borrower is notified).

    \b
    Example:
      ils-bridge desk recall X0001 --new-due 2026-04-10
    """
    lib = cli.library()
    finish(cli, lib.recall(item, new_due=new_due, **call_options(lib)),
           lambda o: result(f"{item} recalled (notice {o.data['recall_notices']})", o))


@commands.command()
@click.argument("item")
@click.option("--multiple", type=DECIMAL, help="Charge this multiple of the price (where the policy lets staff choose).")
@click.option("--processing-fee", help="Processing fee amount, where staff set it.")
@click.option("--replaced-by-copy", is_flag=True, help="The patron brought an identical copy instead.")
@yes_option
@pass_cli
def lost(cli: CliContext, item: str, multiple: Decimal | None, processing_fee: str | None, replaced_by_copy: bool,
         yes: bool) -> None:
    """The borrower reports a loaned item lost: closes the loan and charges what the policy says.

    \b
    Example:
      ils-bridge desk lost X0001 --yes
    """
    lib = cli.library()
    confirm(yes, f"Close the loan of {item} as lost and charge the borrower?")
    out = lib.report_lost(item, multiple=multiple, processing_fee=processing_fee, replaced_by_copy=replaced_by_copy,
                          **call_options(lib))
    finish(cli, out, lambda o: result(f"{item} reported lost", o))


@commands.command()
@click.argument("item")
@pass_cli
def found(cli: CliContext, item: str) -> None:
    """A lost item is back: unpaid charges are cancelled, paid ones refunded within the policy's window.

    \b
    Example:
      ils-bridge desk found X0001
    """
    lib = cli.library()

    def render(outcome: Outcome) -> None:
        data = outcome.data
        result(f"{item} found: {data['cancelled']} cancelled, {data['refund_due']} to refund", outcome)
        if data.get("hold"):
            done(f"put it on the hold shelf for {data['hold']['patron']}")

    finish(cli, lib.found(item, **call_options(lib)), render)


@commands.command()
@click.argument("item")
@click.argument("kind")
@click.option("--patron", help="Charge this patron instead of the last borrower.")
@click.option("--units", type=click.IntRange(min=1), default=1, show_default=True, help="Torn leaves, barcodes, ...")
@click.option("--cleanable", is_flag=True, help="The marks can be cleaned (reduced charge where the policy says).")
@click.option("--binding", type=click.Choice(["paperback", "hardcover"]), help="Rebinding needed, for this binding.")
@click.option("--extra", help="An extra amount on top of the policy's charge.")
@pass_cli
def damage(cli: CliContext, item: str, kind: str, patron: str | None, units: int, cleanable: bool,
           binding: str | None, extra: str | None) -> None:
    """Charge for damage found on return (KIND from the policy's damage kinds).

    \b
    Example:
      ils-bridge desk damage X0001 torn_leaf --units 3 --binding paperback
    """
    lib = cli.library()
    out = lib.charge_damage(item, kind, patron=patron, units=units, cleanable=cleanable, binding=binding, extra=extra,
                            **call_options(lib))
    finish(cli, out, lambda o: result(f"damage to {item} charged", o))


@commands.command()
@click.argument("patron")
@click.argument("items", nargs=-1, required=True)
@yes_option
@pass_cli
def theft(cli: CliContext, patron: str, items: tuple[str, ...], yes: bool) -> None:
    """Charge the theft fine for items carried out unissued.

    \b
    Example:
      ils-bridge desk theft 20230001 X0001 X0002 --yes
    """
    lib = cli.library()
    confirm(yes, f"Charge {patron} the theft fine for {', '.join(items)}?")
    finish(cli, lib.charge_theft(patron, items, **call_options(lib)),
           lambda o: result(f"theft fine charged to {patron}", o))

