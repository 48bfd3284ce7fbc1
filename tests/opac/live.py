"""Test support: a library built from policies/examples/xuzhou.yaml with MARC records
imported through marc/importer.py, and SIP2, SRU and Z39.50 servers on its database,
all on one event loop as ``ils-bridge serve all`` runs them."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from Sip2.sip2 import Sip2

from ils_bridge.app import App, Library
from ils_bridge.cli.serve import Running
from ils_bridge.services.catalogue import Catalogue
from marc.importer import import_files
from marc.search import LibraryHoldings, open_index
from marc.sru.server import SruServer
from marc.z3950.server import Z3950Server
from sip2_server.app import create_server
from sip2_server.backend import Backend
from tests.opac.conftest import yaz

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "policies" / "examples" / "xuzhou.yaml"
SAMPLES = REPO / "tests" / "data" / "marc"
MAPPING = Path(__file__).with_name("xuzhou952.yaml")  # Koha item types -> xuzhou materials
INSTITUTION, TERMINAL, PASSWORD = "XZMU", "kiosk-1", "term-secret"
PATRON, PIN = "U1", "1234"
MARC = "http://www.loc.gov/MARC21/slim"
NS = {"marc": MARC, "zs": "http://www.loc.gov/zing/srw/"}


def build_library(app: App) -> Library:
    """xuzhou with one undergraduate and the Chinese and Vietnamese 952 samples imported."""
    lib = app.create_library(POLICY.read_text(encoding="utf-8"), author="test")
    assert lib.register_patron(PATRON, "Patron U1", "undergraduate").ok
    assert lib.issue_card(PATRON, "C-U1", valid_until=dt.date(2030, 1, 1)).ok
    assert lib.set_pin(PATRON, PIN).ok
    report = import_files(Catalogue(app.db.engine, lib.record.id), [SAMPLES / "unicode_952.mrc"], mapping=MAPPING)
    assert (report.added, report.items_added, report.failed) == (2, 3, 0), report
    backend = Backend(app)
    backend.terminals.add(lib.code, TERMINAL, PASSWORD, institution_id=INSTITUTION)
    backend.close()
    return lib


@dataclass
class Servers:
    library: Library
    sip2: int
    sru: int
    z3950: int

    # ---- SRU over HTTP
    def http_get(self, path: str, **params: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.sru, timeout=20)
        try:
            conn.request("GET", path + "?" + urllib.parse.urlencode(params))
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def sru_search(self, query: str, **params: str) -> etree._Element:
        status, body = self.http_get("/opac", version="1.2", operation="searchRetrieve", query=query, **params)
        assert status == 200
        return etree.fromstring(body)

    def sru_hits(self, query: str) -> int:
        return int(self.sru_search(query).findtext("zs:numberOfRecords", namespaces=NS))

    def sru_copy_status(self, control: str, barcode: str) -> dict[str, str]:
        """The 876 subfields ($j status, $d due) of one copy in the holdings schema."""
        doc = self.sru_search(f"rec.id={control}", recordSchema="holdings")
        for field in doc.iterfind(".//marc:datafield[@tag='876']", NS):
            subfields = {s.get("code"): s.text for s in field.iterfind("marc:subfield", NS)}
            if subfields.get("p") == barcode:
                return subfields
        raise AssertionError(f"no 876 for {barcode}")

    def daia_item(self, control: str, barcode: str) -> dict:
        status, body = self.http_get("/opac/daia", id=f"ppn:{control}", format="json")
        assert status == 200
        (document,) = json.loads(body)["document"]
        return next(item for item in document["item"] if item["id"] == barcode)

    def yaz_sru_holdings(self, control: str) -> str:
        """yaz-client as the SRU client: the record in the holdings schema, as it prints it."""
        return yaz(f"sru get 1.2\nopen http://127.0.0.1:{self.sru}/opac\nquerytype cql\nschema holdings\n"
                   f"find rec.id={control}\nshow 1\nclose\n")

    # ---- Z39.50 with yaz-client
    def z3950_session(self, commands: str) -> str:
        lines = [f"open tcp:127.0.0.1:{self.z3950}/Default", *commands.splitlines(), "close"]
        return yaz("\n".join(line for line in lines if line) + "\n")

    def opac_holding(self, control: str, barcode: str) -> str:
        """The yaz-client rendering of one copy's holdingsAndCirc in the OPAC record syntax."""
        out = self.z3950_session(f"format opac\nfind @attr 1=12 {control}\nshow 1")
        assert "Record type: OPAC" in out, out
        for block in out.split("Data holdings ")[1:]:
            if f"itemId: {barcode}" in block:
                return block
        raise AssertionError(f"no holding for {barcode} in {out}")

    # ---- SIP2 with the PyPI client
    def sip2_client(self) -> Sip2:
        sip = Sip2()
        sip.hostName, sip.hostPort, sip.tlsEnable, sip.socketTimeout = "127.0.0.1", self.sip2, False, 20
        sip.log = logging.getLogger("sip2-client")
        sip.institutionId, sip.terminalPassword, sip.patron, sip.patronpwd = INSTITUTION, PASSWORD, PATRON, PIN
        sip.connect()
        login = sip.sip_login_response(sip.get_response(sip.sip_login_request(TERMINAL, PASSWORD)))
        assert login["fixed"]["Ok"] == "1"
        return sip


def hits(transcript: str) -> list[int]:
    return [int(n) for n in re.findall(r"Number of hits: (\d+)", transcript)]


@contextmanager
def running(servers: Sequence[Running]) -> Iterator[None]:
    """Start the servers on one event loop in a thread; close them in reverse order on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="opac-servers", daemon=True)
    thread.start()
    started: list[Running] = []
    try:
        for server in servers:
            asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=20)
            started.append(server)
        yield
    finally:
        for server in reversed(started):
            asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@contextmanager
def serving(app: App, lib: Library) -> Iterator[Servers]:
    """SIP2 (sip2_server.app.create_server), SRU and Z39.50 on the library's database."""
    engine = app.db.engine
    index = open_index(engine, lib.record.id)
    holdings = LibraryHoldings(lib)
    sip2, backend = create_server(app, port=0)
    sru = SruServer(engine, holdings=holdings, port=0, database="opac", title=lib.record.name, index=index)
    z3950 = Z3950Server(engine, holdings=holdings, port=0, index=index)
    try:
        with running([Running("SIP2", sip2.start, sip2.close), Running("SRU", sru.start, sru.stop),
                      Running("Z39.50", z3950.start, z3950.stop)]):
            yield Servers(lib, sip2.port, sru.port, z3950.port)
    finally:
        backend.close()
