"""`ils-bridge packages`: the service packages of the active policy, and buying one."""

from __future__ import annotations

import click

from ils_bridge.cli.common import CliContext, Group, emit, finish, pass_cli
from ils_bridge.cli.options import call_options
from ils_bridge.cli.tables import print_table, result


@click.group("packages", cls=Group)
def commands() -> None:
    """Yearly service packages (home-loan entitlements with their own limits)."""


@commands.command()
@click.argument("patron")
@click.argument("code")
@click.option("--payment-type", default="cash", show_default=True)
@pass_cli
def buy(cli: CliContext, patron: str, code: str, payment_type: str) -> None:
    """Sell a package to a patron (charged and paid at once).

    \b
    Example:
      ils-bridge packages buy 20230001 home-basic --payment-type card
    """
    lib = cli.library()
    finish(cli, lib.buy_package(patron, code, payment_type=payment_type, **call_options(lib)),
           lambda o: result(f"package {code} sold to {patron}, valid until {o.data['valid_until']}", o))


@commands.command("list")
@pass_cli
def list_packages(cli: CliContext) -> None:
    """List the packages the active policy offers.

    \b
    Example:
      ils-bridge packages list
    """
    lib = cli.library()
    rows = [{"code": p.code, "price": p.price, "currency": lib.record.currency.code, "valid_days": p.valid_days,
             "max_items": p.max_items, "max_value": p.max_value} for p in lib.current_policy().packages.values()]
    emit(cli, rows, lambda data: print_table("Packages", [
        ("code", "code"), ("price", "price"), ("currency", "currency"), ("valid days", "valid_days"),
        ("max items", "max_items"), ("max value", "max_value")], data, empty="this library sells no packages"))
