"""The Z39.50 target, driven by Debian's yaz-client as the independent origin,
plus raw-socket abuse: garbage bytes, truncated and out-of-order APDUs."""

from __future__ import annotations

import re
import socket
import subprocess

import pymarc
import pytest

from marc.z3950 import codec, oids
from marc.z3950.session import bits
from tests.opac.conftest import yaz


def session(served, commands: str, charset: bool = False) -> str:
    lines = ["charset UTF-8"] if charset else []
    lines += [f"open tcp:127.0.0.1:{served['z3950'].port}/Default", *commands.splitlines(), "close"]
    return yaz("\n".join(line for line in lines if line) + "\n")  # a blank line would repeat the last command


def hits(transcript: str) -> list[int]:
    return [int(n) for n in re.findall(r"Number of hits: (\d+)", transcript)]


def diagnostics(transcript: str) -> list[int]:
    return [int(n) for n in re.findall(r"^\s+\[(\d+)\]", transcript, re.MULTILINE)]


def test_init_negotiates_options_and_utf8(served):
    out = session(served, "", charset=True)
    assert "Connection accepted by v3 target." in out
    assert re.search(r"Options: search present delSet scan sort namedResultSets negotiation", out)
    assert "Accepted character set : UTF-8" in out
    assert "Target has closed the association." in out


@pytest.mark.parametrize(
    ("pqf", "count"),
    [
        ("@attr 1=4 history", 3),
        ("@attr 1=1003 morris", 1),
        ("@attr 1=21 botany", 1),
        ("@attr 1=7 9780306406157", 1),
        ("@attr 1=8 0022-2259", 1),
        ("@attr 1=12 rec4", 1),
        ("@attr 1=31 @attr 2=5 @attr 4=4 2000", 2),
        ("@attr 1=31 @attr 2=3 1950", 1),
        ("@attr 1=1016 medica", 1),
        ("@attr 1=4 @attr 5=1 hist", 3),
        ("@attr 1=4 @attr 3=1 journal", 1),
        ("@attr 1=4 @attr 3=1 library", 0),
        ('@attr 1=4 @attr 4=1 "history of"', 2),
        ('@attr 1=4 @attr 6=3 "botanical materia medica"', 1),
        ('@attr 1=4 @attr 6=3 "botanical materia"', 0),
        ("@attr 1=4 @attr 4=2 图书馆", 1),
        ('@attr 1=4 "tieng viet"', 1),
        ("@and @attr 1=4 history @attr 1=1003 smith", 1),
        ("@or @attr 1=1003 smith @attr 1=1003 aurand", 2),
        ("@not @attr 1=4 history @attr 1=1003 smith", 2),
        ("@prox 0 3 0 2 k 2 @attr 1=4 history @attr 1=4 states", 1),
        ("@attr 1=title music", 1),
    ],
)
def test_find_with_bib1_attributes(served, pqf, count):
    assert hits(session(served, f"find {pqf}")) == [count]


def test_named_result_sets_combine(served):
    out = session(served, "find @attr 1=4 history\nfind @attr 1=1003 smith\nfind @and @set 1 @attr 1=31 @attr 2=1 1900")
    assert hits(out) == [3, 1, 1]


def test_oldest_result_sets_are_dropped_not_new_searches_refused(served):
    many = "\n".join("find @attr 1=4 history" for _ in range(40))
    out = session(served, f"{many}\nfind @and @set 1 @attr 1=1003 smith\nfind @and @set 40 @attr 1=1003 smith")
    assert hits(out)[:40] == [3] * 40
    assert diagnostics(out) == [27]  # set 1 was dropped by the target
    assert hits(out)[-1] == 1


def test_show_usmarc_parses_with_pymarc_and_yaz_marcdump(served, tmp_path):
    dump = tmp_path / "records.mrc"
    session(served, f"set_marcdump {dump}\nformat usmarc\nfind @attr 1=4 history\nshow 1+3")
    data = dump.read_bytes()
    records = list(pymarc.MARCReader(data, to_unicode=True, force_utf8=True))
    assert len(records) == 3 and all("history" in r.title.lower() for r in records)
    line = subprocess.run(["yaz-marcdump", "-i", "marc", "-o", "line", str(dump)], capture_output=True, check=True).stdout
    assert line.count(b"\n245 ") == 3


def test_show_utf8_record(served, tmp_path):
    dump = tmp_path / "cjk.mrc"
    session(served, f"set_marcdump {dump}\nfind @attr 1=4 图书馆\nshow 1", charset=True)
    (record,) = pymarc.MARCReader(dump.read_bytes(), to_unicode=True, force_utf8=True)
    assert record.title == "图书馆学概论"


def test_show_opac_record_has_holdings_and_circulation(served):
    out = session(served, "format opac\nfind @attr 1=12 rec1\nshow 1")
    assert "Record type: OPAC" in out
    assert "245 10 $a A history of the United States" in out
    blocks = out.split("Data holdings ")[1:]
    assert len(blocks) == 3
    assert "callNumber: CALL B002" in blocks[1] and "availableNow: 0" in blocks[1]
    assert re.search(rf"availab\w*Date: {served['due'].date().isoformat()}", blocks[1])
    assert "itemId: B002" in blocks[1]
    assert "restrictions: In library use only" in blocks[2]


def test_show_xml_and_sutrs(served):
    out = session(served, "find @attr 1=4 music\nformat xml\nshow 1\nformat sutrs\nshow 1")
    assert '<record xmlns="http://www.loc.gov/MARC21/slim">' in out
    assert "Record type: SUTRS" in out and "245 10 $a The history of music" in out


def test_scan(served):
    out = session(served, "scan @attr 1=4 hist")
    entries = re.findall(r"^[* ] (\S+) \((\d+)\)", out, re.MULTILINE)
    assert entries[:2] == [("history", "3"), ("journal", "1")]
    assert diagnostics(session(served, "scan @attr 1=31 1900")) == [123]


def test_sort(served):
    out = session(served, "find @attr 1=4 history\nsort 1=31 >\nshow 1")
    assert "SortResponse: status=success" in out
    assert "245 10 $a Journal of library history" in out
    assert diagnostics(session(served, "find @attr 1=4 history\nsort 1=1003 <")) == [207]


@pytest.mark.parametrize(
    ("commands", "condition"),
    [
        ("find @attr 1=9999 x", 114),
        ("find @attr 1=4 @attr 2=100 x", 117),
        ("find @attr 1=4 @attr 3=9 x", 119),
        ("find @attr 1=4 @attr 4=999 x", 118),
        ("find @attr 1=4 @attr 5=2 x", 120),
        ("find @attr 1=4 @attr 6=9 x", 122),
        ("find @attr 7=1 x", 113),
        ("find @attr 1.2.840.10003.3.2 1=4 x", 121),
        ("find @attr 1=4 @attr 2=1 x", 123),
        ("find @attr 1=31 nineteen", 115),
        ("find @attr 1=4 @attr 2=3 @set nosuch", 30),
        ("find @attr 1=4 history\nshow 99", 13),
        ("find @attr 1=4 history\nshow 0", 13),
        ("find @attr 1=4 history\nformat grs-1\nshow 1", 239),
        ("find @attr 1=4 history\nelements X\nshow 1", 25),
    ],
)
def test_bad_requests_get_bib1_diagnostics(served, commands, condition):
    out = session(served, commands)
    assert condition in diagnostics(out)
    assert "Target has closed the association." in out  # the association survived


def test_unknown_database(served):
    out = yaz(f"open tcp:127.0.0.1:{served['z3950'].port}/nosuch\nfind x\nclose\n")
    assert diagnostics(out) == [235]


def _exchange(port: int, payload: bytes, wait: float = 5) -> bytes:
    """Everything the target sends back until it closes or stays silent for ``wait`` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _init() -> bytes:
    return codec.encode_pdu("initRequest", {"protocolVersion": bits([0, 1, 2]), "options": bits([0, 1]),
                                            "preferredMessageSize": 65536, "exceptionalRecordSize": 65536})


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x00" * 64,
        bytes(range(256)),
        b"\xb4\x84\xff\xff\xff\xff",  # an initRequest claiming 4 GB
        b"\xb4\x80\x00\x00",  # indefinite length
        b"\xb4\x05\x01\x02\x03\x04\x05",  # the right tag, nonsense inside
        b"\xb7\x00",  # a searchResponse: not something an origin sends
    ],
)
def test_garbage_gets_close_or_disconnect_and_server_lives(served, payload):
    reply = _exchange(served["z3950"].port, payload)
    if reply:
        name, close = codec.decode_pdu(reply)
        assert name == "close" and close["closeReason"] == 6  # protocolError
    assert hits(session(served, "find @attr 1=4 music")) == [1]


def test_search_before_init_and_truncated_apdu(served):
    search = codec.encode_pdu("searchRequest", {
        "smallSetUpperBound": 0, "largeSetLowerBound": 1, "mediumSetPresentNumber": 0, "replaceIndicator": True,
        "resultSetName": "default", "databaseNames": ["Default"],
        "query": ("type-1", {"attributeSet": oids.BIB1_ATTRIBUTES, "rpn": ("op", ("attrTerm", {
            "attributes": [{"attributeType": 1, "attributeValue": ("numeric", 4)}], "term": ("general", b"music")}))})})
    name, close = codec.decode_pdu(_exchange(served["z3950"].port, search))
    assert name == "close" and close["closeReason"] == 6
    assert _exchange(served["z3950"].port, _init()[:-3], wait=1) == b""  # cut mid-APDU: no answer, no crash
    reply = _exchange(served["z3950"].port, _init() + search[:5], wait=1)
    assert codec.decode_pdu(reply)[0] == "initResponse"


def test_id_authentication_is_checked_when_configured(served):
    from marc.search.background import BackgroundServer
    from marc.z3950.server import Z3950Server

    def check(user, password, group):
        return (user, password) == ("librarian", "secret")

    target = Z3950Server(served["engine"], port=0, authenticate=check)
    with BackgroundServer(target) as server:
        address = f"tcp:127.0.0.1:{server.port}/Default"
        refused = yaz(f"auth librarian/wrong\nopen {address}\nfind @attr 1=4 music\n")
        accepted = yaz(f"auth librarian/secret\nopen {address}\nfind @attr 1=4 music\nclose\n")
    assert "Connection rejected by v3 target." in refused
    assert hits(refused) == []
    assert "Connection accepted by v3 target." in accepted and hits(accepted) == [1]
