"""`ils-bridge fees`: open charges, payments, waivers, refunds.

Amounts are decimal strings in the library's currency ("12.50"); they are
checked by the ledger service, never turned into floats.
"""

from __future__ import annotations

from decimal import Decimal

import click

from ils_bridge.cli.common import CliContext, Group, emit, finish, pass_cli
from ils_bridge.cli.options import call_options, confirm, in_library_time, yes_option
from ils_bridge.cli.tables import print_table, result


@click.group("fees", cls=Group)
def commands() -> None:
    """Fees and fines: list what is owed, take payments, waive with approval, refund."""


@commands.command("list")
@click.argument("patron")
@pass_cli
def list_fees(cli: CliContext, patron: str) -> None:
    """List a patron's open charges, oldest first (the fee id is what pay --fee-id and waive take).

    \b
    Example:
      ils-bridge fees list 20230001
    """
    lib = cli.library()
    account = in_library_time(lib, lib.patron_account(patron))
    data = {"patron": account["number"], "currency": account["currency"], "owed": account["fees_owed"],
            "fees": account["fees"]}
    emit(cli, data, lambda d: print_table(f"Open fees of {patron}: {_balance(d['owed'], d['currency'])}", [
        ("fee", "fee_id"), ("type", "type"), ("amount", "amount"), ("outstanding", "outstanding"),
        ("charged", "created_at")], d["fees"], empty="nothing owed"))


def _balance(owed: Decimal, currency: str) -> str:
    return f"{owed} {currency} owed" if owed >= 0 else f"the library owes the patron {-owed} {currency}"


@commands.command()
@click.argument("patron")
@click.argument("amount")
@click.option("--currency", help="Currency of the amount (refused unless it is the library's).")
@click.option("--fee-id", type=int, help="Pay this charge (default: oldest charges first).")
@click.option("--payment-type", default="cash", show_default=True,
              help="cash, card, credit_card, online, wechat, alipay, transfer or other.")
@pass_cli
def pay(cli: CliContext, patron: str, amount: str, currency: str | None, fee_id: int | None, payment_type: str) -> None:
    """Take a payment.

    \b
    Examples:
      ils-bridge fees pay 20230001 4.00
      ils-bridge fees pay 20230001 12.50 --currency CNY --fee-id 31 --payment-type wechat
    """
    lib = cli.library()
    out = lib.pay(patron, amount, currency, fee_id=fee_id, payment_type=payment_type, **call_options(lib))
    finish(cli, out, lambda o: result(f"{o.data['paid']} {lib.record.currency.code} paid; "
                                      f"balance {o.data['balance']}", o))


@commands.command()
@click.argument("patron")
@click.argument("fee_id", type=int)
@click.option("--approver", required=True, help="Who approved the waiver.")
@click.option("--reason", required=True)
@click.option("--amount", help="Waive only this much (default: all that is outstanding).")
@click.option("--approval", "approvals", multiple=True,
              help="An approval the policy requires (repeat: --approval department_certificate --approval director).")
@yes_option
@pass_cli
def waive(cli: CliContext, patron: str, fee_id: int, approver: str, reason: str, amount: str | None,
          approvals: tuple[str, ...], yes: bool) -> None:
    """Waive all or part of a charge, recording the approvals the policy requires.

    \b
    Example:
      ils-bridge fees waive 20230001 31 --approver "Dr. Wang" --reason "hospital stay" \\
          --approval department_certificate --approval director --yes
    """
    lib = cli.library()
    confirm(yes, f"Waive {amount or 'all that is outstanding'} of fee {fee_id} for {patron}?")
    out = lib.waive(patron, fee_id=fee_id, approver=approver, reason=reason, amount=amount, approvals=approvals,
                    **call_options(lib))
    finish(cli, out, lambda o: result(f"{o.data['waived']} waived on fee {fee_id}", o))


@commands.command()
@click.argument("patron")
@click.argument("amount")
@click.option("--reason", required=True)
@yes_option
@pass_cli
def refund(cli: CliContext, patron: str, amount: str, reason: str, yes: bool) -> None:
    """Pay out money the library owes a patron (e.g. a lost-item charge refunded when found).

    \b
    Example:
      ils-bridge fees refund 20230001 25.00 --reason "lost book found" --yes
    """
    lib = cli.library()
    confirm(yes, f"Pay {amount} back to {patron}?")
    finish(cli, lib.refund(patron, amount, reason=reason, **call_options(lib)),
           lambda o: result(f"{o.data['refunded']} refunded to {patron}", o))
