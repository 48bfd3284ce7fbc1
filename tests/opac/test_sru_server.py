"""The SRU server over real HTTP: explain, searchRetrieve, scan, diagnostics,
keep-alive, DAIA availability; and yaz-client as an independent SRU client."""

from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
import threading
import urllib.parse

import pymarc
import pytest
from lxml import etree

from tests.opac.conftest import yaz

SRU1 = "http://www.loc.gov/zing/srw/"
SRU2 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAG1 = "http://www.loc.gov/zing/srw/diagnostic/"
MARC = "http://www.loc.gov/MARC21/slim"
NS = {"zs": SRU1, "s2": SRU2, "diag": DIAG1, "marc": MARC, "dc": "http://purl.org/dc/elements/1.1/",
      "ex": "http://explain.z3950.org/dtd/2.0/"}


def get(served, path: str = "/opac", **params: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", served["sru"].port, timeout=10)
    conn.request("GET", path + "?" + urllib.parse.urlencode(params))
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def sru(served, **params: str) -> etree._Element:
    status, body = get(served, **params)
    assert status == 200
    return etree.fromstring(body)


def diagnostic_uri(doc: etree._Element) -> str | None:
    uri = doc.find(".//diag:diagnostic/diag:uri", NS)
    if uri is None:
        uri = doc.find(".//{http://docs.oasis-open.org/ns/search-ws/diagnostic}uri")
    return None if uri is None else uri.text


def search(served, query: str, **params: str) -> etree._Element:
    return sru(served, version="1.2", operation="searchRetrieve", query=query, **params)


def test_explain_lists_what_works(served):
    doc = sru(served, version="1.2", operation="explain")
    names = {(n.get("set"), n.text) for n in doc.iterfind(".//ex:index/ex:map/ex:name", NS)}
    assert {("dc", "title"), ("dc", "creator"), ("bath", "isbn"), ("cql", "allRecords")} <= names
    schemas = {s.get("name") for s in doc.iterfind(".//ex:schemaInfo/ex:schema", NS)}
    assert schemas == {"marcxml", "dc", "holdings"}
    # Every index the explain record names is accepted by searchRetrieve.
    for set_name, index in names:
        term = "1" if index in ("date", "allRecords") else "x"
        result = search(served, f"{set_name}.{index}={term}")
        assert diagnostic_uri(result) is None, (set_name, index)


def test_search_retrieve_marcxml_parses_with_pymarc(served):
    doc = search(served, "dc.title=history", maximumRecords="2")
    assert doc.findtext("zs:numberOfRecords", namespaces=NS) == "3"
    data = doc.findall(".//zs:recordData/marc:record", NS)
    assert len(data) == 2
    assert doc.findtext("zs:nextRecordPosition", namespaces=NS) == "3"
    collection = b"<collection xmlns='%s'>%s</collection>" % (MARC.encode(), b"".join(etree.tostring(r) for r in data))
    records = pymarc.parse_xml_to_array(io.BytesIO(collection))
    assert all("history" in r.title.lower() for r in records)
    dumped = subprocess.run(["yaz-marcdump", "-i", "marcxml", "-o", "line", "/dev/stdin"], input=collection,
                            capture_output=True, check=True).stdout.decode()
    assert "245 10 $a" in dumped


def test_chinese_and_vietnamese_over_sru(served):
    assert search(served, "dc.title=图书馆").findtext("zs:numberOfRecords", namespaces=NS) == "1"
    assert search(served, 'dc.title="tieng viet"').findtext("zs:numberOfRecords", namespaces=NS) == "1"
    record = search(served, "dc.creator=nguyễn").find(".//marc:datafield[@tag='100']/marc:subfield", NS)
    assert record.text == "Nguyễn Văn Huệ"


def test_sru_2_string_escaping_and_paging(served):
    doc = sru(served, version="2.0", operation="searchRetrieve", query="dc.title=history", startRecord="3",
              maximumRecords="5", recordXMLEscaping="string")
    assert doc.tag == f"{{{SRU2}}}searchRetrieveResponse"
    records = doc.findall(".//s2:record", NS)
    assert [r.findtext("s2:recordPosition", namespaces=NS) for r in records] == ["3"]
    assert records[0].findtext("s2:recordXMLEscaping", namespaces=NS) == "string"
    inner = etree.fromstring(records[0].findtext("s2:recordData", namespaces=NS).encode())
    assert inner.tag == f"{{{MARC}}}record"
    assert doc.find("s2:nextRecordPosition", NS) is None


def test_dublin_core_schema(served):
    doc = search(served, "bath.isbn=9780306406157", recordSchema="dc")
    assert doc.findtext(".//dc:title", namespaces=NS) == "A history of the United States"
    assert doc.findtext(".//dc:identifier", namespaces=NS) == "urn:isbn:978-0-306-40615-7"


def test_holdings_schema_carries_live_copy_status(served):
    doc = search(served, "rec.id=rec1", recordSchema="holdings")
    status = {f.findtext("marc:subfield[@code='p']", namespaces=NS): f for f in doc.iterfind(".//marc:datafield[@tag='876']", NS)}
    assert status["B001"].findtext("marc:subfield[@code='j']", namespaces=NS) == "available"
    assert status["B002"].findtext("marc:subfield[@code='j']", namespaces=NS) == "checked_out"
    assert status["B002"].findtext("marc:subfield[@code='d']", namespaces=NS) == served["due"].isoformat()
    assert status["B003"].findtext("marc:subfield[@code='j']", namespaces=NS) == "in_library_only"
    notes = [f.findtext("marc:subfield[@code='z']", namespaces=NS) for f in doc.iterfind(".//marc:datafield[@tag='852']", NS)]
    assert f"Checked out, due {served['due'].date().isoformat()}" in notes


def test_sort_by_year(served):
    doc = search(served, "dc.title=history sortBy dc.date/sort.descending", recordSchema="dc")
    assert [d.text for d in doc.iterfind(".//dc:date", NS)] == ["1966", "1950", "1899"]
    titles = [t.text for t in doc.iterfind(".//dc:title", NS)]
    assert titles == ["Journal of library history", "The history of music", "A history of the United States"]


@pytest.mark.parametrize(
    ("params", "number"),
    [
        ({"query": "dc.title=(oops"}, 10),
        ({"query": "dc.nosuch=x"}, 16),
        ({"query": "dc.title fuzzy x"}, 19),
        ({"query": "dc.title=history", "startRecord": "99"}, 61),
        ({"query": "dc.title=history", "recordSchema": "mods"}, 66),
        ({"query": "dc.title=history", "startRecord": "abc"}, 6),
        ({"query": "dc.title=history", "maximumRecords": "-1"}, 6),
        ({"query": "dc.title=history", "recordPacking": "json"}, 71),
        ({"query": "dc.title=history", "frobnicate": "1"}, 8),
        ({"query": "dc.title=history", "stylesheet": "x.xsl"}, 110),
        ({}, 7),
    ],
)
def test_search_retrieve_diagnostics(served, params, number):
    doc = sru(served, version="1.2", operation="searchRetrieve", **params)
    assert diagnostic_uri(doc) == f"info:srw/diagnostic/1/{number}"


def test_unsupported_version_and_operation(served):
    assert diagnostic_uri(sru(served, version="3.0", operation="explain")) == "info:srw/diagnostic/1/5"
    assert diagnostic_uri(sru(served, version="1.2", operation="update")) == "info:srw/diagnostic/1/4"


def test_scan(served):
    doc = sru(served, version="1.2", operation="scan", scanClause="dc.title=hist", maximumTerms="2")
    terms = [(t.findtext("zs:value", namespaces=NS), t.findtext("zs:numberOfRecords", namespaces=NS)) for t in doc.iterfind(".//zs:term", NS)]
    assert terms == [("history", "3"), ("journal", "1")]
    bad = sru(served, version="1.2", operation="scan", scanClause="dc.title=x", maximumTerms="5000")
    assert diagnostic_uri(bad) == "info:srw/diagnostic/1/121"


def test_keep_alive_serves_many_requests_on_one_connection(served):
    conn = http.client.HTTPConnection("127.0.0.1", served["sru"].port, timeout=10)
    sockets = set()
    for word in ("history", "music", "botanical"):
        conn.request("GET", "/opac?" + urllib.parse.urlencode({"version": "1.2", "operation": "searchRetrieve", "query": word}))
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Connection") == "keep-alive"
        assert b"numberOfRecords>" in response.read()
        sockets.add(id(conn.sock))
    assert len(sockets) == 1
    conn.request("POST", "/opac", body="version=1.2&operation=searchRetrieve&query=music",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert b"<zs:numberOfRecords>1<" in conn.getresponse().read()
    conn.close()


def test_garbage_and_unknown_paths_do_not_hurt_the_server(served):
    port = served["sru"].port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\x00\xff\x13garbage\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /opac HTTP/1.1\r\n" + b"X: " + b"y" * 40000 + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 431")
    assert get(served, "/nosuchdb")[0] == 404
    assert search(served, "music").findtext("zs:numberOfRecords", namespaces=NS) == "1"


def test_daia_availability(served):
    rid = served["ids"]["rec1"]
    status, body = get(served, "/opac/daia", id=f"ppn:{rid}|rec3|nosuch", format="json")
    assert status == 200
    docs = {d["id"]: d for d in json.loads(body)["document"]}
    copies = {i["id"]: i for i in docs[f"ppn:{rid}"]["item"]}
    assert [s["service"] for s in copies["B001"]["available"]] == ["loan", "presentation"]
    assert copies["B002"]["unavailable"][0] == {"service": "loan", "expected": served["due"].date().isoformat()}
    assert [s["service"] for s in copies["B003"]["available"]] == ["presentation"]
    assert copies["B003"]["label"] == "CALL B003"
    held = docs["rec3"]["item"][0]
    assert "available" not in held and held["unavailable"][0]["limitation"] == [{"content": "on hold shelf"}]
    assert docs["nosuch"]["message"][0]["errno"] == 404
    assert get(served, "/opac/daia", format="json")[0] == 400


def test_yaz_client_speaks_sru_to_us(served):
    out = yaz(
        f"sru get 1.2\nopen http://127.0.0.1:{served['sru'].port}/opac\nquerytype cql\n"
        "find dc.title=history\nshow 1\nfind dc.nosuch=x\nscan dc.title=hist\nexplain\nclose\n"
    )
    assert "Number of hits: 3" in out
    assert '<datafield tag="245"' in out
    assert "info:srw/diagnostic/1/16" in out
    assert "history: 3" in out
    assert "explain.z3950.org" in out


class HeldHoldings:
    """A holdings source that waits to be released: a request caught in flight."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def copies(self, record_ids):
        self.entered.set()
        assert self.release.wait(10)
        return {}


def test_stopping_answers_the_request_in_flight_and_closes_idle_connections(served):
    from marc.search.background import BackgroundServer
    from marc.sru.server import SruServer

    holdings = HeldHoldings()
    server = BackgroundServer(SruServer(served["engine"], holdings=holdings, port=0, threads=2)).start()
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    replies = []
    client = threading.Thread(target=lambda: replies.append(
        get({"sru": server}, query="dc.title=music", recordSchema="holdings", version="1.2", operation="searchRetrieve")))
    client.start()
    assert holdings.entered.wait(10)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    assert idle.recv(10) == b""  # the idle connection is closed while the busy one is still working
    holdings.release.set()
    client.join(10)
    stopper.join(10)
    idle.close()
    ((status, body),) = replies
    assert status == 200 and b"The history of music" in body
