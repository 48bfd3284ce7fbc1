"""BER encoding and decoding of Z39.50 APDUs, compiled from ``z3950.asn``,
plus framing: reading exactly one APDU off a stream.

InternationalString is GeneralString on the wire and carries UTF-8 bytes
(what YAZ and every current client send).  asn1tools reads GeneralString as
Latin-1, so the spec is compiled with a GeneralString that reads and writes
UTF-8 instead (undecodable bytes become U+FFFD): values are ``str`` both
ways with no conversion pass over every APDU.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any
from unittest import mock

import asn1tools
from asn1tools.codecs import ber

SPEC = Path(__file__).with_name("z3950.asn")


class Utf8GeneralString(ber.GeneralString):
    def encode_content(self, data: str, values: object = None) -> bytes:
        return data.encode("utf-8")

    def decode_primitive_contents(self, data: bytes, offset: int, length: int) -> str:
        return bytes(data[offset : offset + length]).decode("utf-8", "replace")

    def decode_constructed_segments(self, segments: list[bytes]) -> str:
        return bytearray().join(segments).decode("utf-8", "replace")


with mock.patch.object(ber, "GeneralString", Utf8GeneralString):
    _compiled = asn1tools.compile_files(str(SPEC), "ber")

MAX_PDU_BYTES = 4 * 1024 * 1024
SMALL_PDU_BYTES = 512  # decoded APDUs up to this size are remembered
SEARCH_REQUEST = b"\xb6"  # identifier octet of a searchRequest: [22] constructed
# BER identifiers of the APDUs this target accepts from an origin:
# context-specific, constructed, tag numbers of the PDU CHOICE.
REQUEST_TAGS = {20: "initRequest", 22: "searchRequest", 24: "presentRequest", 26: "deleteResultSetRequest",
                35: "scanRequest", 43: "sortRequest", 48: "close"}


class ProtocolError(Exception):
    """The bytes are not a Z39.50 APDU this target can take."""


def encode(type_name: str, value: Any) -> bytes:
    """BER for a value this target built (so asn1tools' per-value Python type
    check, a sixth of the encoding time, is skipped; the tests encode every response)."""
    return _compiled.encode(type_name, value, check_types=False)


def decode(type_name: str, data: bytes) -> Any:
    try:
        return _compiled.decode(type_name, data)
    except (asn1tools.Error, ValueError, IndexError, KeyError, TypeError) as error:
        raise ProtocolError(f"cannot decode {type_name}: {error}") from None


def encode_pdu(name: str, value: dict) -> bytes:
    return encode("PDU", (name, value))


def decode_pdu(data: bytes) -> tuple[str, dict]:
    """The APDU's (name, value); callers treat the value as read-only (see ``_decode_small``)."""
    if len(data) <= SMALL_PDU_BYTES and data[:1] != SEARCH_REQUEST:
        return _decode_small(data)
    return decode("PDU", data)


@functools.lru_cache(maxsize=1024)
def _decode_small(data: bytes) -> tuple[str, dict]:
    """Origins repeat presents byte for byte (every "show 1" of yaz-client, every
    "first ten" of an OPAC is the same presentRequest): decode each once.
    Searches are left out: they rarely repeat on one association."""
    return decode("PDU", data)


async def read_pdu(reader: asyncio.StreamReader) -> bytes | None:
    """The bytes of the next APDU; None on a clean end of stream between APDUs."""
    first = await reader.read(1)
    if not first:
        return None
    head = bytearray(first)
    if first[0] & 0xE0 != 0xA0:  # context-specific, constructed
        raise ProtocolError(f"not a Z39.50 APDU (identifier byte 0x{first[0]:02x})")
    tag = first[0] & 0x1F
    if tag == 0x1F:  # high tag number: base-128 digits
        tag = 0
        for _ in range(3):
            byte = (await reader.readexactly(1))[0]
            head.append(byte)
            tag = (tag << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        else:
            raise ProtocolError("tag number too long")
    if tag not in REQUEST_TAGS:
        raise ProtocolError(f"APDU tag [{tag}] is not a request this target accepts")
    length_byte = (await reader.readexactly(1))[0]
    head.append(length_byte)
    if length_byte == 0x80:
        raise ProtocolError("indefinite-length encoding is not accepted")
    if length_byte & 0x80:
        count = length_byte & 0x7F
        if count > 4:
            raise ProtocolError("length field too long")
        raw = await reader.readexactly(count)
        head += raw
        length = int.from_bytes(raw, "big")
    else:
        length = length_byte
    if length > MAX_PDU_BYTES:
        raise ProtocolError(f"APDU of {length} bytes exceeds {MAX_PDU_BYTES}")
    return bytes(head) + await reader.readexactly(length)
