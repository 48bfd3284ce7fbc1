"""`ils-bridge deposits`: take, refund and deduct patron deposits."""

from __future__ import annotations

import click

from ils_bridge.cli.common import CliContext, Group, finish, pass_cli
from ils_bridge.cli.options import call_options, confirm, yes_option
from ils_bridge.cli.tables import result


@click.group("deposits", cls=Group)
def commands() -> None:
    """Deposits held for patrons (where the policy asks for one before borrowing)."""


@commands.command()
@click.argument("patron")
@click.argument("amount")
@click.option("--currency", help="Currency of the amount (refused unless it is the library's).")
@pass_cli
def take(cli: CliContext, patron: str, amount: str, currency: str | None) -> None:
    """Take a deposit.

    \b
    Example:
      ils-bridge deposits take 20230001 200.00
    """
    lib = cli.library()
    finish(cli, lib.take_deposit(patron, amount, currency, **call_options(lib)),
           lambda o: result(f"deposit now {o.data['deposit']}", o))


@commands.command()
@click.argument("patron")
@yes_option
@pass_cli
def refund(cli: CliContext, patron: str, yes: bool) -> None:
    """Return the deposit when the patron ends the service (fees owed are taken from it first).

    \b
    Example:
      ils-bridge deposits refund 20230001 --yes
    """
    lib = cli.library()
    confirm(yes, f"Refund the deposit of {patron} (fees owed are paid from it first)?")
    finish(cli, lib.refund_deposit(patron, **call_options(lib)),
           lambda o: result(f"{o.data['refunded']} refunded ({o.data['applied_to_fees']} applied to fees)", o))


@commands.command()
@click.argument("patron")
@click.argument("amount")
@click.option("--reason", required=True)
@yes_option
@pass_cli
def deduct(cli: CliContext, patron: str, amount: str, reason: str, yes: bool) -> None:
    """Pay part of what a patron owes from their deposit.

    \b
    Example:
      ils-bridge deposits deduct 20230001 15.00 --reason "overdue fines" --yes
    """
    lib = cli.library()
    confirm(yes, f"Take {amount} from the deposit of {patron} towards their fees?")
    finish(cli, lib.deduct_deposit(patron, amount, reason=reason, **call_options(lib)),
           lambda o: result(f"{o.data['deducted']} deducted from the deposit", o))
