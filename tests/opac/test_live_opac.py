"""The OPAC servers wired into the running system: live circulation state read
through the services, records searchable the moment they are written.

SIP2, SRU and Z39.50 run on one database (as ``ils-bridge serve all`` runs
them); the PyPI ``sip2`` client checks a copy out and in, and plain HTTP,
DAIA and Debian's yaz-client must each see the change at once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pymarc
import pytest
from lxml import etree

from ils_bridge.app import App, Library
from ils_bridge.services.catalogue import Catalogue
from marc.holdings import HoldingsMapping
from marc.importer import catalogue_entry
from tests.opac.live import MAPPING, Servers, build_library, hits, serving

SHANGHAI = ZoneInfo("Asia/Shanghai")
# yaz-client prints a BER TRUE (0xFF, as asn1tools encodes it) as -1.
AVAILABLE_NOW = re.compile(r"availableNow: (1|-1)\n")
BOOK, REFERENCE = "C0000001", "C0000002"  # copies of 机器学习 (001 CN0001): a loanable book, a reference copy


@pytest.fixture
def live(db_url: str) -> Iterator[Servers]:
    """On each engine: xuzhou with imported records, and the three servers."""
    app = App.open(db_url)
    try:
        lib = build_library(app)
        with serving(app, lib) as servers:
            yield servers
    finally:
        app.close()


def loan_due(lib: Library, barcode: str) -> dt.date:
    (loan,) = [loan for loan in lib.patron_account("U1")["loans"] if loan["item"] == barcode]
    return loan["due"].astimezone(SHANGHAI).date()


def test_sip2_checkout_and_checkin_show_at_once_in_sru_daia_and_z3950(live: Servers):
    assert live.sru_copy_status("CN0001", BOOK)["j"] == "available"
    assert [s["service"] for s in live.daia_item("CN0001", BOOK)["available"]] == ["loan", "presentation"]
    assert AVAILABLE_NOW.search(live.opac_holding("CN0001", BOOK))

    sip = live.sip2_client()
    out = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(BOOK)))
    assert out["fixed"]["Ok"] == "1", out
    due = loan_due(live.library, BOOK)

    status = live.sru_copy_status("CN0001", BOOK)
    assert status["j"] == "checked_out" and status["d"].startswith(due.isoformat())
    daia = live.daia_item("CN0001", BOOK)
    assert daia.get("available", []) == []
    assert {s["service"]: s.get("expected") for s in daia["unavailable"]} == {"loan": due.isoformat(), "presentation": due.isoformat()}
    holding = live.opac_holding("CN0001", BOOK)
    assert "availableNow: 0" in holding and f"Date: {due.isoformat()}" in holding
    assert f"Checked out, due {due.isoformat()}" in holding
    assert re.search(f'<subfield code="p">{BOOK}</subfield><subfield code="t">[^<]+</subfield>'
                     f'<subfield code="z">Checked out, due {due.isoformat()}', live.yaz_sru_holdings("CN0001"))

    back = sip.sip_checkin_response(sip.get_response(sip.sip_checkin_request(BOOK)))
    assert back["fixed"]["Ok"] == "1", back
    sip.disconnect()

    assert "d" not in live.sru_copy_status("CN0001", BOOK) and live.sru_copy_status("CN0001", BOOK)["j"] == "available"
    assert [s["service"] for s in live.daia_item("CN0001", BOOK)["available"]] == ["loan", "presentation"]
    assert AVAILABLE_NOW.search(live.opac_holding("CN0001", BOOK))
    assert re.search(f'<subfield code="p">{BOOK}</subfield><subfield code="t">[^<]+</subfield><subfield code="z">Available',
                     live.yaz_sru_holdings("CN0001"))


def test_reference_copy_is_in_library_only_as_the_policy_says(live: Servers):
    assert live.library.checkout("U1", REFERENCE).reason.value == "not_loanable"
    assert live.sru_copy_status("CN0001", REFERENCE)["j"] == "in_library_only"
    daia = live.daia_item("CN0001", REFERENCE)
    assert [s["service"] for s in daia["available"]] == ["presentation"]
    assert [s["service"] for s in daia["unavailable"]] == ["loan"]
    assert "restrictions: In library use only" in live.opac_holding("CN0001", REFERENCE)


def test_records_written_through_the_services_are_searchable_at_once(live: Servers):
    lib = live.library
    assert live.sru_hits('dc.title="desk catalogued"') == 0
    added = lib.add_title("Desk catalogued handbook", author="Tran, Mai")
    assert added.ok
    assert live.sru_hits('dc.title="desk catalogued"') == 1
    assert hits(live.z3950_session("find @attr 1=1003 tran")) == [1]

    catalogue = Catalogue(lib.app.db.engine, lib.record.id)
    (stored,) = [r for r in catalogue.iter_records() if r.control_number == "VN0001"]
    record = pymarc.Record(data=stored.marc, to_unicode=True, force_utf8=True)
    record["245"]["a"] = "Hoa vàng edited title"
    entry, _ = catalogue_entry(record, HoldingsMapping.load(MAPPING), "CNY")
    catalogue.replace(stored.id, entry)
    assert live.sru_hits('dc.title="hoa vang edited"') == 1
    assert live.sru_hits('dc.title="tôi thấy hoa"') == 0

    catalogue.mark_deleted(stored.id)
    assert live.sru_hits('dc.title="hoa vang edited"') == 0
    assert hits(live.z3950_session("find @attr 1=12 VN0001")) == [0]


def sru_diagnostic(live: Servers, **params: str) -> str | None:
    status, body = live.http_get("/opac", version="1.2", operation="searchRetrieve", **params)
    assert status == 200
    uri = etree.fromstring(body).find(".//{http://www.loc.gov/zing/srw/diagnostic/}uri")
    return None if uri is None else uri.text.rsplit("/", 1)[-1]


def test_bad_requests_get_diagnostics_and_the_servers_keep_serving(live: Servers):
    """On PostgreSQL this runs through the thread pool: errors there must come back as diagnostics too."""
    assert sru_diagnostic(live, query="dc.title=(oops") == "10"
    assert sru_diagnostic(live, query="dc.nosuch=x") == "16"
    assert sru_diagnostic(live, query="dc.title=tiếng", startRecord="999999999") is None  # no hits: nothing to be out of
    assert sru_diagnostic(live, query="cql.allRecords=1", startRecord="999999999") == "61"
    assert sru_diagnostic(live, query="cql.allRecords=1", maximumRecords="99999999999999999999") is None
    with socket.create_connection(("127.0.0.1", live.sru), timeout=10) as sock:
        sock.sendall(bytes(range(256)) + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", live.z3950), timeout=10) as sock:
        sock.sendall(b"\xb4\x84\xff\xff\xff\xff" + bytes(range(256)))
        sock.recv(1000)

    out = live.z3950_session(
        "find @attr 1=9999 x\nfind @attr 1=4 @attr 2=100 x\nfind @attr 1=4 机器学习\nshow 1000000+5\nshow 1+1\nscan @attr 1=4 m")
    assert [int(n) for n in re.findall(r"^\s+\[(\d+)\]", out, re.MULTILINE)][:3] == [114, 117, 13]
    assert hits(out) == [0, 0, 1]  # refused searches report no hits
    assert "245 10 $a 机器学习" in out
    assert "Target has closed the association." in out
    assert live.sru_hits("dc.title=机器学习") == 1


def test_missing_copies_say_so_and_withdrawn_copies_leave_the_opac(live: Servers):
    assert live.library.update_item(BOOK, status="missing").ok
    assert live.sru_copy_status("CN0001", BOOK)["j"] == "unavailable"
    daia = live.daia_item("CN0001", BOOK)
    assert daia["message"] == [{"content": "missing", "lang": "en"}] and "available" not in daia
    assert live.library.update_item(BOOK, status="withdrawn").ok
    status, body = live.http_get("/opac/daia", id="CN0001", format="json")
    assert status == 200 and [item["id"] for item in json.loads(body)["document"][0]["item"]] == [REFERENCE]
    opac = live.z3950_session("format opac\nfind @attr 1=12 CN0001\nshow 1")
    assert f"itemId: {REFERENCE}" in opac and f"itemId: {BOOK}" not in opac
