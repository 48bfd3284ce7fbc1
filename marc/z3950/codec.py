"""BER encoding and decoding of Z39.50 APDUs, compiled from ``z3950.asn``,
plus framing: reading exactly one APDU off a stream.

Two asn1tools types are replaced at compile time:

- InternationalString is GeneralString on the wire and carries UTF-8 bytes
  (what YAZ and every current client send).  asn1tools reads GeneralString
  as Latin-1, so the spec is compiled with a GeneralString that reads and
  writes UTF-8 instead (undecodable bytes become U+FFFD): values are ``str``
  both ways with no conversion pass over every APDU.
- OBJECT IDENTIFIER content is remembered per value: a target sees and sends
  the same few OIDs (Bib-1, record syntaxes) in every search and record, and
  asn1tools converts each between dotted text and base-128 digits in Python.
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


class MemoObjectIdentifier(ber.ObjectIdentifier):
    def __init__(self, name: str) -> None:
        # asn1tools' own __init__ names its class through the module global, which is patched while compiling
        ber.Type.__init__(self, name, "OBJECT IDENTIFIER", ber.Tag.OBJECT_IDENTIFIER)

    def encode_content(self, data: str, values: object = None) -> bytes:
        return _oid_content(data)

    def decode_content(self, data: bytearray, offset: int, length: int) -> tuple[str, int]:
        end = offset + length
        return _oid_value(bytes(data[offset:end])), end


@functools.lru_cache(maxsize=256)
def _oid_content(dotted: str) -> bytes:
    return bytes(ber.encode_object_identifier(dotted))


@functools.lru_cache(maxsize=256)  # bounded: an origin sending random OIDs costs a miss, never memory
def _oid_value(content: bytes) -> str:
    return ber.decode_object_identifier(content, 0, len(content))


with mock.patch.object(ber, "GeneralString", Utf8GeneralString), mock.patch.object(ber, "ObjectIdentifier", MemoObjectIdentifier):
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


READ_CHUNK = 64 * 1024


class ApduReader:
    """Reads whole APDUs off a stream: one ``read`` brings in whatever the origin
    sent (usually one whole request), and the APDUs are cut from that buffer,
    instead of three awaits per APDU (identifier, length, contents)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()

    async def next(self) -> bytes | None:
        """The bytes of the next APDU; None on a clean end of stream between APDUs."""
        while True:
            size = apdu_size(self._buffer)
            if size is not None:
                pdu = bytes(self._buffer[:size])
                del self._buffer[:size]
                return pdu
            chunk = await self._reader.read(READ_CHUNK)
            if not chunk:
                if self._buffer:
                    raise asyncio.IncompleteReadError(bytes(self._buffer), None)
                return None
            self._buffer += chunk


def apdu_size(data: bytes | bytearray) -> int | None:
    """The size of the request APDU at the start of ``data`` once it is all there
    (None until then); ProtocolError as soon as the bytes read so far cannot start one."""
    if not data:
        return None
    if data[0] & 0xE0 != 0xA0:  # context-specific, constructed
        raise ProtocolError(f"not a Z39.50 APDU (identifier byte 0x{data[0]:02x})")
    tag, at = data[0] & 0x1F, 1
    if tag == 0x1F:  # high tag number: base-128 digits
        tag = 0
        while True:
            if at >= len(data):
                return None
            if at > 3:
                raise ProtocolError("tag number too long")
            byte = data[at]
            at += 1
            tag = (tag << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
    if tag not in REQUEST_TAGS:
        raise ProtocolError(f"APDU tag [{tag}] is not a request this target accepts")
    if at >= len(data):
        return None
    length_byte = data[at]
    at += 1
    if length_byte == 0x80:
        raise ProtocolError("indefinite-length encoding is not accepted")
    if length_byte & 0x80:
        count = length_byte & 0x7F
        if count > 4:
            raise ProtocolError("length field too long")
        if at + count > len(data):
            return None
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    else:
        length = length_byte
    if length > MAX_PDU_BYTES:
        raise ProtocolError(f"APDU of {length} bytes exceeds {MAX_PDU_BYTES}")
    return at + length if at + length <= len(data) else None
