"""Both engines through the real server: writes go to the writer threads (one on SQLite, several on PostgreSQL),
reads run in the event loop on SQLite and in the pool on PostgreSQL; the answers are the same."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ils_bridge.app import App
from sip2_server import Message
from sip2_server.writer import POSTGRESQL_WRITERS
from tests.sip2.sip2_world import XZ, books, make_library, serving


def test_checkout_item_information_resend_and_checkin_on_each_engine(db_url: str) -> None:
    app = App.open(db_url)
    try:
        lib = make_library(app, "xuzhou")
        lib.register_patron("E1", "Engine Patron", "phd")
        lib.issue_card("E1", "C-E1", valid_until=date(2030, 1, 1))
        item = books(lib, "engines", copies=1)[0]
        with serving(app) as server:
            assert server.backend.reads_inline == app.db.is_sqlite
            assert server.backend.writer.threads == (1 if app.db.is_sqlite else POSTGRESQL_WRITERS)
            kiosk = server.raw(server.add_terminal("xuzhou", "kiosk-e", XZ))
            when = datetime.now() - timedelta(minutes=1)
            lent = kiosk.checkout(XZ, "E1", item, date=when)
            again = kiosk.checkout(XZ, "E1", item, date=when)  # a resend: answered from the first outcome
            info = kiosk.request(Message("17", {"transaction_date": None}).add("AO", XZ).add("AB", item))
            returned = kiosk.checkin(XZ, item, date=when)
            after = kiosk.request(Message("17", {"transaction_date": None}).add("AO", XZ).add("AB", item))
        assert lent.fixed["ok"] == "1" and again.fixed["ok"] == "1", lent.get_all("AF")
        assert again.get("AH") == lent.get("AH")
        assert info.fixed["circulation_status"] == "04"  # charged
        assert returned.fixed["ok"] == "1"
        assert after.fixed["circulation_status"] == "03"  # available
        assert len(lib.patron_account("E1")["loans"]) == 0
    finally:
        app.close()
