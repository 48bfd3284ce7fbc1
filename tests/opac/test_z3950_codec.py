"""The Z39.50 codec on its own: framing APDUs off a stream however the bytes
arrive, and OBJECT IDENTIFIERs (remembered per value) as X.690 encodes them."""

from __future__ import annotations

import asyncio

import pytest
from asn1tools.codecs import ber

from marc.z3950 import codec, oids
from marc.z3950.session import bits


def _search(term: bytes, attribute_set: str = oids.BIB1_ATTRIBUTES) -> bytes:
    return codec.encode_pdu("searchRequest", {
        "smallSetUpperBound": 0, "largeSetLowerBound": 1, "mediumSetPresentNumber": 0, "replaceIndicator": True,
        "resultSetName": "default", "databaseNames": ["Default"],
        "query": ("type-1", {"attributeSet": attribute_set, "rpn": ("op", ("attrTerm", {
            "attributes": [{"attributeType": 1, "attributeValue": ("numeric", 4)}], "term": ("general", term)}))})})


def _init() -> bytes:
    return codec.encode_pdu("initRequest", {"protocolVersion": bits([0, 1, 2]), "options": bits([0, 1]),
                                            "preferredMessageSize": 65536, "exceptionalRecordSize": 65536})


def _read_all(chunks: list[bytes]) -> list[bytes | None]:
    """What ``ApduReader.next`` returns, call after call, for a stream delivering ``chunks`` then EOF."""

    async def run() -> list[bytes | None]:
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        apdus = codec.ApduReader(reader)
        out: list[bytes | None] = []
        while not out or out[-1] is not None:
            out.append(await apdus.next())
        return out

    return asyncio.run(run())


def test_apdus_are_cut_whole_however_the_bytes_arrive():
    init, search = _init(), _search(b"x" * 300)  # the search has a long-form length
    stream = init + search + init
    for size in (1, 2, 7, len(init) + 3, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert _read_all(chunks) == [init, search, init, None]


def test_apdu_with_a_high_tag_number_is_framed():
    close = codec.encode_pdu("close", {"closeReason": 0})  # [48]: two identifier octets
    assert close[:2] == b"\xbf\x30"
    assert _read_all([close[:1], close[1:2], close[2:]]) == [close, None]


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"G", "identifier byte 0x47"),
        (b"\xb7", "not a request"),  # a searchResponse
        (b"\xb4\x80", "indefinite-length"),
        (b"\xb4\x85", "length field too long"),
        (b"\xb4\x84\x7f\xff\xff\xff", "exceeds"),
        (b"\xbf\xff\xff\xff\x01", "tag number too long"),
    ],
)
def test_bad_headers_are_refused_before_their_contents_arrive(head, message):
    with pytest.raises(codec.ProtocolError, match=message):
        _read_all([head])


def test_end_of_stream_mid_apdu_is_an_incomplete_read():
    init = _init()
    with pytest.raises(asyncio.IncompleteReadError):
        _read_all([init + init[:-2]])


def test_apdu_size_waits_for_the_whole_apdu():
    init = _init()
    assert [codec.apdu_size(init[:n]) for n in range(len(init))] == [None] * len(init)
    assert codec.apdu_size(init) == codec.apdu_size(init + b"\xb4") == len(init)


@pytest.mark.parametrize("oid", [oids.BIB1_ATTRIBUTES, oids.USMARC, oids.OPAC, "1.2.840.10003.5.109.10", "1.3.6.1.4.1.1234567"])
def test_object_identifiers_encode_as_x690_says_and_read_back(oid):
    content = bytes(ber.encode_object_identifier(oid))  # asn1tools' own conversion
    encoded = codec.encode("PDU", ("presentResponse", {
        "numberOfRecordsReturned": 1, "nextResultSetPosition": 2, "presentStatus": 0,
        "records": ("responseRecords", [{"record": ("retrievalRecord", {
            "direct-reference": oid, "encoding": ("octet-aligned", b"rec")})}])}))
    assert b"\x06" + bytes([len(content)]) + content in encoded
    for _ in range(2):  # the second time from the remembered value
        assert codec.decode("PDU", encoded)[1]["records"][1][0]["record"][1]["direct-reference"] == oid
        assert codec.decode_pdu(_search(b"x", oid))[1]["query"][1]["attributeSet"] == oid


@pytest.mark.parametrize("content", [b"", b"\x81", b"\x2a\x86"])
def test_broken_object_identifier_is_a_protocol_error(content):
    good = _search(b"music")
    oid = bytes(ber.encode_object_identifier(oids.BIB1_ATTRIBUTES))
    at = good.index(b"\x06" + bytes([len(oid)]) + oid)
    # the same APDU with the OID's contents replaced, every enclosing length shortened to match
    broken = bytearray(good[:at] + b"\x06" + bytes([len(content)]) + content + good[at + 2 + len(oid) :])
    shrink = len(oid) - len(content)
    for length_at in _enclosing_lengths(good, at):
        broken[length_at] -= shrink
    with pytest.raises(codec.ProtocolError):
        codec.decode_pdu(bytes(broken))


def _enclosing_lengths(data: bytes, target: int) -> list[int]:
    """Offsets of the (short-form) length octets of every constructed TLV enclosing offset ``target``."""
    found, at, end = [], 0, len(data)
    while at < end:
        first = data[at]
        tag_end = at + 1
        if first & 0x1F == 0x1F:
            while data[tag_end] & 0x80:
                tag_end += 1
            tag_end += 1
        length = data[tag_end]
        assert length < 0x80, "short-form lengths only"
        contents, stop = tag_end + 1, tag_end + 1 + length
        if contents <= target < stop:
            if not first & 0x20:
                return found
            found.append(tag_end)
            at, end = contents, stop
        else:
            at = stop
    return found
