"""`ils-bridge items`: add titles and copies at the desk, change a copy, show its state.

Catalogers load full records with `marc import`; these commands are for a
copy whose circulation attributes are all that is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ils_bridge.cli.common import CliContext, Group, emit, finish, pass_cli
from ils_bridge.cli.options import (
    call_options,
    in_library_time,
    parse_pairs,
    whole_number,
    yes_no,
)
from ils_bridge.cli.tables import print_fields, result

# Item attributes that are not text, and how to read them from KEY=VALUE.
TYPED_ATTRIBUTES: dict[str, Callable[[str], Any]] = {
    "pub_year": whole_number, "volumes_in_set": whole_number, "closed_stack": yes_no, "important_work": yes_no,
}
SET_HELP = ("Another attribute as KEY=VALUE (repeatable): collection, language, volume, volumes_in_set, copy_number, "
            "closed_stack=yes, important_work=yes, set_price, replacement_value.")


@click.group("items", cls=Group)
def commands() -> None:
    """Titles and copies (items): add, change, show."""


@commands.command("add-title")
@click.argument("title")
@click.option("--author")
@click.option("--control-number", help="The record's 001.")
@click.option("--pub-year", type=int)
@click.option("--language")
@pass_cli
def add_title(cli: CliContext, title: str, author: str | None, control_number: str | None, pub_year: int | None,
              language: str | None) -> None:
    """Add a brief title record; prints its title id (for items add --title-id).

    \b
    Example:
      ils-bridge items add-title "Gray's Anatomy" --author "Gray, Henry" --pub-year 2020
    """
    lib = cli.library()
    out = lib.add_title(title, author=author, control_number=control_number, pub_year=pub_year, language=language,
                        **call_options(lib))
    finish(cli, out, lambda o: result(f"title {o.data['title_id']} added", o))


@commands.command()
@click.argument("barcode")
@click.option("--title-id", type=int, required=True, help="The title this copy belongs to.")
@click.option("--material", required=True, help="Material from the policy's vocabulary (e.g. zh_book).")
@click.option("--price", help="Purchase price (decimal string, library currency).")
@click.option("--classification", help="Class mark (e.g. R44): decides the loan rule in many policies.")
@click.option("--branch")
@click.option("--location")
@click.option("--call-number")
@click.option("--pub-year", type=int)
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@pass_cli
def add(cli: CliContext, barcode: str, title_id: int, material: str, price: str | None, pairs: tuple[str, ...],
        **attributes: Any) -> None:
    """Add a copy of a title.

    \b
    Example:
      ils-bridge items add X0001 --title-id 1 --material zh_book --classification R44 --price 30.00
    """
    given = {k: v for k, v in attributes.items() if v is not None}
    given.update(parse_pairs(pairs, TYPED_ATTRIBUTES))
    lib = cli.library()
    out = lib.add_item(barcode, title_id, material, price=price, **given, **call_options(lib))
    finish(cli, out, lambda o: result(f"item {barcode} added to title {title_id}", o))


@commands.command()
@click.argument("barcode")
@click.option("--status", help="available, missing, withdrawn or in_transit (not for items on loan).")
@click.option("--material")
@click.option("--classification")
@click.option("--branch")
@click.option("--location")
@click.option("--call-number")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@pass_cli
def update(cli: CliContext, barcode: str, pairs: tuple[str, ...], **changes: Any) -> None:
    """Change a copy's attributes or shelf status.

    \b
    Examples:
      ils-bridge items update X0001 --location "closed stack" --set closed_stack=yes
      ils-bridge items update X0001 --status missing
    """
    given = {k: v for k, v in changes.items() if v is not None}
    given.update(parse_pairs(pairs, TYPED_ATTRIBUTES))
    lib = cli.library()
    finish(cli, lib.update_item(barcode, **given, **call_options(lib)), lambda o: result(f"item {barcode} updated", o))


@commands.command()
@click.argument("barcode")
@pass_cli
def show(cli: CliContext, barcode: str) -> None:
    """Show a copy: title, status, borrower and due date, holds.

    \b
    Example:
      ils-bridge items show X0001
    """
    lib = cli.library()
    info = in_library_time(lib, lib.item_info(barcode))
    emit(cli, info, lambda i: print_fields(f"{i['barcode']}: {i['title']}", [
        ("author", i["author"]), ("status", i["status"]), ("due", i["due"]), ("borrower", i["borrower"]),
        ("holds waiting", i["hold_queue"]), ("on hold shelf for", i["hold_for"]),
        ("pick up by", i["hold_shelf_expires_on"]), ("material", i["material"]), ("branch", i["branch"]),
        ("location", i["location"]), ("call number", i["call_number"]),
        ("price", f"{i['price']} {i['currency']}" if i["price"] is not None else None),
        ("in library only", i["in_library_only"]), ("title id", i["title_id"])]))
