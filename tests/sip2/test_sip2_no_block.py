"""No-block (offline) transactions over TCP: what the SC already did is recorded, refusals are only reported."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ils_bridge.reasons import Reason
from tests.core.helpers import title_with_copies
from tests.sip2.sip2_world import SHANGHAI, XZ, ZH, books, screen


def local(moment: dt.datetime) -> dt.datetime:
    """A time as a terminal writes it: local wall time, no zone."""
    return moment.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)


def test_an_offline_loan_the_policy_refuses_is_recorded_and_flagged(server, xuzhou, clock):
    reference = title_with_copies(xuzhou, "R", "reference")[0]
    raw = server.raw("kiosk-1")
    online = raw.checkout(XZ, "U1", reference)
    assert online.fixed["ok"] == "0" and xuzhou.patron_account("U1")["loans"] == []

    offline_at = local(clock.now() - dt.timedelta(days=2))
    reply = raw.checkout(XZ, "U1", reference, date=offline_at, no_block=True)
    assert (reply.fixed["ok"], reply.fixed["desensitize"]) == ("1", "Y")
    [loan] = xuzhou.patron_account("U1")["loans"]
    assert loan["item"] == reference
    # Not loanable: due back the day it left, so it shows as owed at once.
    assert loan["due"].astimezone(SHANGHAI).date() == offline_at.date()
    assert reply.get("AH") == local(loan["due"]).strftime("%Y%m%d    %H%M%S")
    # Staff see the refusal that was overridden first, then the usual text.
    assert screen(reply)[0] == ZH.screen(Reason.NOT_LOANABLE)
    assert reply.get("AG") == ZH.print_line(Reason.NOT_LOANABLE)
    assert screen(reply)[1] == ZH.text("checked_out", title="Title R", due=offline_at.date().isoformat())

    resent = server.raw("kiosk-1").checkout(XZ, "U1", reference, date=offline_at, no_block=True)
    assert (resent.fixed["ok"], screen(resent)) == ("1", screen(reply))
    assert len(xuzhou.patron_account("U1")["loans"]) == 1


def test_an_offline_loan_the_policy_allows_says_nothing_extra(server, xuzhou, clock):
    item = books(xuzhou, "N")[0]
    offline_at = local(clock.now() - dt.timedelta(days=3))
    reply = server.raw("kiosk-1").checkout(XZ, "U1", item, date=offline_at, no_block=True)
    assert reply.fixed["ok"] == "1" and "AG" not in reply.fields
    due = offline_at.date() + dt.timedelta(days=60)
    assert screen(reply) == [ZH.text("checked_out", title="Title N", due=due.isoformat())]


def test_an_offline_loan_is_recorded_whatever_password_came_with_it(server, xuzhou, clock):
    item = books(xuzhou, "W")[0]
    raw = server.raw("kiosk-1")
    assert raw.checkout(XZ, "U1", item, AD="0000").fixed["ok"] == "0"  # online: the wrong PIN refuses
    offline_at = local(clock.now() - dt.timedelta(hours=1))
    assert raw.checkout(XZ, "U1", item, date=offline_at, no_block=True, AD="0000").fixed["ok"] == "1"
    assert [loan["item"] for loan in xuzhou.patron_account("U1")["loans"]] == [item]


def test_an_offline_transaction_dated_in_the_future_is_taken_as_now(server, xuzhou, clock):
    item = books(xuzhou, "T")[0]
    ahead = local(clock.now() + dt.timedelta(days=5))
    assert server.raw("kiosk-1").checkout(XZ, "U1", item, date=ahead, no_block=True).fixed["ok"] == "1"
    [loan] = xuzhou.patron_account("U1")["loans"]
    assert loan["due"].astimezone(SHANGHAI).date() == clock.now().astimezone(SHANGHAI).date() + dt.timedelta(days=60)


def test_an_offline_return_ends_the_loan_at_its_transaction_date(server, xuzhou, clock):
    item = books(xuzhou, "D")[0]
    clock.set(dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI))
    raw = server.raw("kiosk-1")
    raw.checkout(XZ, "U1", item)  # due 2026-05-01
    clock.set(dt.datetime(2026, 5, 11, 9, tzinfo=SHANGHAI))
    # returned at a kiosk that was offline on the due date; replayed ten days later, without a return date
    back = raw.checkin(XZ, item, date=dt.datetime(2026, 5, 1, 15, 0), no_block=True)
    assert back.fixed["ok"] == "1"
    account = xuzhou.patron_account("U1")
    assert account["loans"] == [] and Decimal(account["fees_owed"]) == 0
    # the control: a late return made online is fined
    raw.checkout(XZ, "U1", item)
    clock.set(dt.datetime(2026, 7, 20, 9, tzinfo=SHANGHAI))
    assert raw.checkin(XZ, item).fixed["ok"] == "1"
    assert Decimal(xuzhou.patron_account("U1")["fees_owed"]) > 0
