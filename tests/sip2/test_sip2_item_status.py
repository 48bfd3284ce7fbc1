"""17 Item Information over TCP: every item state the circulation core has, as its SIP2 2.00 circulation status."""

from __future__ import annotations

from tests.sip2.sip2_world import SHANGHAI, XZ, books


def test_circulation_status_of_every_item_state(server, xuzhou):
    items = dict(zip(("available", "charged", "recalled", "hold_shelf", "in_transit", "lost", "missing", "withdrawn"),
                     books(xuzhou, "S", copies=8, branch="main", price="50", pub_year=2000)))
    for name in ("charged", "recalled", "hold_shelf", "lost"):
        assert xuzhou.checkout("U2", items[name]).ok
    assert xuzhou.recall(items["recalled"]).ok
    assert xuzhou.place_hold("U1", item=items["hold_shelf"]).ok and xuzhou.checkin(items["hold_shelf"]).ok
    assert xuzhou.report_lost(items["lost"]).ok
    for status in ("in_transit", "missing", "withdrawn"):
        assert xuzhou.update_item(items[status], status=status).ok

    gate = server.raw("kiosk-1")
    replies = {name: gate.item_information(XZ, barcode) for name, barcode in items.items()}
    assert {name: reply.fixed["circulation_status"] for name, reply in replies.items()} == {
        "available": "03", "charged": "04", "recalled": "07", "hold_shelf": "08", "in_transit": "10",
        "lost": "12", "missing": "13", "withdrawn": "01",
    }
    assert all(reply.get("AJ") == "Title S" for reply in replies.values())
    shelf_until = xuzhou.item_info(items["hold_shelf"])["hold_shelf_expires_on"]
    assert replies["hold_shelf"].get("CM") == shelf_until.strftime("%Y%m%d    235959")
    due = xuzhou.item_info(items["recalled"])["due"].astimezone(SHANGHAI).replace(tzinfo=None)
    assert replies["recalled"].get("AH") == due.strftime("%Y%m%d    %H%M%S")
    assert "AH" not in replies["available"].fields
