"""15 Hold over TCP: change (*) in place (pickup branch BS, expiry date BW) keeping the queue place; cancel (-)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ils_bridge.app import App, Library
from ils_bridge.clock import SettableClock
from ils_bridge.reasons import Reason
from tests.core.helpers import patron_with_card, title_with_copies
from tests.sip2.sip2_world import VI, XZ, ZH, LibraryServer, books, make_library, screen

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")


def sip2_date(day: dt.date) -> str:
    return day.strftime("%Y%m%d    235959")


def queue_of_two(server: LibraryServer, xuzhou: Library) -> str:
    """An item lent to U2 with holds by U1 (first, pickup main) and U3 (second)."""
    item = books(xuzhou, "Q", branch="main")[0]
    patron_with_card(xuzhou, "U3", "undergraduate")
    raw = server.raw("kiosk-1")
    assert raw.checkout(XZ, "U2", item).fixed["ok"] == "1"
    assert raw.hold(XZ, "U1", item, "+", BS="main").get("BR") == "1"
    assert raw.hold(XZ, "U3", item, "+", BS="main").get("BR") == "2"
    return item


def test_a_changed_pickup_branch_keeps_the_place_in_the_queue(server, xuzhou):
    item = queue_of_two(server, xuzhou)
    raw = server.raw("kiosk-1")
    changed = raw.hold(XZ, "U1", item, "*", BS="east")
    assert (changed.fixed["ok"], changed.get("BS"), changed.get("AJ")) == ("1", "east", "Title Q")
    assert screen(changed) == [ZH.text("hold_changed")]
    assert [h["pickup_branch"] for h in xuzhou.patron_account("U1")["holds"]] == ["east"]
    # U1 is still first: the returned copy is trapped for U1 and sent to the new pickup branch.
    back = raw.checkin(XZ, item, location="main")
    assert (back.get("CY"), back.get("CT"), back.get("CV")) == ("U1", "east", "02")


def test_a_hold_change_that_cannot_be_made_is_refused_and_changes_nothing(server, xuzhou):
    item = queue_of_two(server, xuzhou)
    raw = server.raw("kiosk-1")
    cases = {
        "nothing to change": ({}, Reason.INVALID_REQUEST),
        "expiry date not taken here": ({"BW": sip2_date(dt.date.today() + dt.timedelta(days=30))}, Reason.NOT_PERMITTED),
        "unreadable expiry date": ({"BW": "next tuesday"}, Reason.INVALID_REQUEST),
    }
    for name, (fields, reason) in cases.items():
        refused = raw.hold(XZ, "U1", item, "*", **fields)
        assert (refused.fixed["ok"], refused.fixed["available"], screen(refused)) == ("0", "N", [ZH.screen(reason)]), name
    no_hold = raw.hold(XZ, "U2", item, "*", BS="east")
    assert no_hold.fixed["ok"] == "0" and screen(no_hold) == [ZH.screen(Reason.UNKNOWN_HOLD)]
    assert [(h["pickup_branch"], h["lapse_on"]) for h in xuzhou.patron_account("U1")["holds"]] == [("main", None)]


def test_cancel_closes_the_hold(server, xuzhou):
    item = queue_of_two(server, xuzhou)
    cancelled = server.raw("kiosk-1").hold(XZ, "U1", item, "-")
    assert cancelled.fixed["ok"] == "1" and screen(cancelled) == [ZH.text("hold_cancelled")]
    assert xuzhou.patron_account("U1")["holds"] == []


def test_expiry_date_change_where_the_policy_takes_one(sqlite_app: App, server: LibraryServer, clock: SettableClock):
    danang = make_library(sqlite_app, "danang")
    for patron in ("D1", "D2"):
        patron_with_card(danang, patron, "undergraduate")
    item = title_with_copies(danang, "DN", "vn_monograph", copies=2)[0]
    assert danang.checkout("D1", item).ok and danang.place_hold("D2", item=item).ok
    server.add_terminal("danang", "dn-kiosk", "DUT")
    raw = server.raw("dn-kiosk")
    today = clock.now().astimezone(HO_CHI_MINH).date()

    changed = raw.hold("DUT", "D2", item, "*", BW=sip2_date(today + dt.timedelta(days=30)))
    assert (changed.fixed["ok"], changed.get("BW")) == ("1", sip2_date(today + dt.timedelta(days=30)))
    assert screen(changed) == [VI.text("hold_changed")]
    assert [h["lapse_on"] for h in danang.patron_account("D2")["holds"]] == [today + dt.timedelta(days=30)]

    past = raw.hold("DUT", "D2", item, "*", BW=sip2_date(today - dt.timedelta(days=1)))
    assert past.fixed["ok"] == "0" and screen(past) == [VI.screen(Reason.INVALID_REQUEST)]
    assert [h["lapse_on"] for h in danang.patron_account("D2")["holds"]] == [today + dt.timedelta(days=30)]
