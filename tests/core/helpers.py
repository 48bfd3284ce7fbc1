"""Small builders for circulation tests: titles with copies, patrons with cards, moving the clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ils_bridge.app import Library
from ils_bridge.clock import SettableClock


def title_with_copies(lib: Library, prefix: str, material: str, copies: int = 2, **attributes) -> list[str]:
    title = lib.add_title(f"Title {prefix}")
    assert title.ok, title
    barcodes = []
    for n in range(copies):
        barcode = f"{prefix}-{n}"
        added = lib.add_item(barcode, title.data["title_id"], material, **attributes)
        assert added.ok, added
        barcodes.append(barcode)
    return barcodes


def patron_with_card(lib: Library, number: str, patron_type: str, *, group: str | None = None, kind: str | None = None,
                     valid_until: dt.date | None = dt.date(2030, 1, 1)) -> str:
    registered = lib.register_patron(number, f"Patron {number}", patron_type, patron_group=group)
    assert registered.ok, registered
    card = lib.issue_card(number, f"C-{number}", kind=kind, valid_until=valid_until)
    assert card.ok, card
    return number


def move_to(clock: SettableClock, day: dt.date, tz: str, hour: int = 10) -> None:
    clock.set(dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(tz)))


def due_date(outcome, tz: str) -> dt.date:
    return outcome.due.astimezone(ZoneInfo(tz)).date()
