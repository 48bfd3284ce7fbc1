"""Our domain values -> SIP2 code table values (the tables themselves are in ``sip2_server.fields``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ITEM_STATUS_CIRCULATION = {
    "available": "03",
    "checked_out": "04",
    "on_hold_shelf": "08",
    "in_transit": "10",
    "lost": "12",
    "missing": "13",
    "withdrawn": "01",
}
"""Item status -> 18's circulation status (SIP2 2.00).  The table's other values have no status here:
02 on order, 05 charged (no recall before a date), 06 in process, 09 waiting to be re-shelved, 11 claimed
returned; a withdrawn item (no SIP2 value) and any status not listed are 01 other."""
OTHER, RECALLED = "01", "07"

FEE_TYPES = {
    "overdue": "04",
    "lost": "07",
    "theft": "07",
    "damage": "03",
    "processing": "05",
    "barcode": "05",
    "card": "02",
    "package": "02",
}
"""Ledger fee types -> 12/18/64 fee type (anything else: 01 other/unknown)."""

PAYMENT_TYPES = {"00": "cash", "01": "credit_card", "02": "credit_card"}
"""37's payment type -> the ledger's payment type (VISA is a credit card)."""

DEFAULT_MEDIA_TYPE = "001"  # book


def circulation_status(info: Mapping[str, Any]) -> str:
    """18's circulation status for ``Library.item_circulation``: a checked-out item whose loan was recalled is 07."""
    if info["status"] == "checked_out" and info["recalled"]:
        return RECALLED
    return ITEM_STATUS_CIRCULATION.get(info["status"], OTHER)


def fee_type(ledger_type: str | None) -> str:
    return FEE_TYPES.get(ledger_type or "", "01")


def media_type(material: str | None, table: Mapping[str, str]) -> str:
    return table.get(material or "", DEFAULT_MEDIA_TYPE)
