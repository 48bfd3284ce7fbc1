"""Read MARC records from ISO 2709, MARCXML and MARC-in-JSON, one at a time.

Every reader streams: memory stays constant whatever the file size.  A
corrupt record never stops the run: it comes out as a ``ReadResult`` with a
``failure`` (what went wrong, where, and its control number if readable) and
the reader carries on with the next record.

    for result in read_records("books.mrc"):
        if result.failure:
            print(result.failure)
        else:
            use(result.record)

ISO 2709 is split on the record terminator (0x1D), so a record with a wrong
length or a broken directory costs only itself.  MARC-8 records (leader/09
blank) are converted to UTF-8 and their leader/09 set to ``a``.  An XML file
that stops being well-formed cannot be resynchronised: the reader reports
the syntax error and stops reading that file.
"""

from __future__ import annotations

import codecs
import importlib.util
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import pymarc
from lxml import etree

from marc import validation
from marc.matching import control_number

Format = Literal["iso2709", "marcxml", "json"]
Encoding = Literal["auto", "utf-8", "marc-8"]
Parser = Literal["auto", "pymarc", "rmarc"]

FORMATS: tuple[str, ...] = ("iso2709", "marcxml", "json")
RECORD_TERMINATOR = b"\x1d"
FIELD_TERMINATOR = b"\x1e"
LEADER_LENGTH = 24
DIRECTORY_ENTRY_LENGTH = 12
MAX_RECORD_LENGTH = 99999  # five leader digits
MARCXML_NS = "http://www.loc.gov/MARC21/slim"
_BLOCK = 1 << 16
_LEADING_JUNK = b"\r\n\t \x00"
_ENCODED_FFFD = "\ufffd".encode()  # the replacement character, as UTF-8 bytes
# Directory entries: any 3-byte tag, a 4-digit length and a 5-digit start.
_SOUND_DIRECTORY = re.compile(rb"(?:...[0-9]{9})*", re.DOTALL)
_ENTRY_NUMBERS = re.compile(rb"...([0-9]{4})([0-9]{5})", re.DOTALL)


class UnknownFormat(ValueError):
    """The content is none of the MARC serialisations we read."""


@dataclass(frozen=True)
class ReadFailure:
    """Why one record could not be read, and where it is."""

    number: int  # 1-based position of the record in the file
    offset: int | None  # byte offset of its start (None where the format gives none)
    reason: str  # a short code: bad_leader, bad_directory, bad_length, truncated, ...
    detail: str  # human-readable explanation
    control_number: str | None = None
    line: int | None = None  # for MARCXML

    def __str__(self) -> str:
        where = f"record {self.number}"
        if self.offset is not None:
            where += f" at byte {self.offset}"
        if self.line is not None:
            where += f" (line {self.line})"
        cn = f" [001 {self.control_number}]" if self.control_number else ""
        return f"{where}{cn}: {self.reason}: {self.detail}"


@dataclass(frozen=True)
class ReadResult:
    """One record read from a file, or the failure to read it."""

    number: int
    offset: int | None
    end_offset: int | None  # byte offset just after the record: a resume point
    record: pymarc.Record | None = None
    failure: ReadFailure | None = None
    # The ISO 2709 bytes read, when they hold the record as decoded (UTF-8): a writer can
    # store them (see ``holdings.iso2709_without_holdings``) instead of serialising the record.
    raw: bytes | None = field(default=None, repr=False)


# --- format detection -----------------------------------------------------


def detect_format(head: bytes) -> Format:
    """Tell the serialisation from the first bytes of a file."""
    text = head.lstrip(b"\xef\xbb\xbf" + _LEADING_JUNK)
    if text.startswith(b"<"):
        return "marcxml"
    if text[:1] in (b"{", b"["):
        return "json"
    if len(text) >= 5 and text[:5].isdigit():
        return "iso2709"
    raise UnknownFormat(f"not MARC21, MARCXML or MARC-in-JSON (starts with {head[:16]!r})")


@contextmanager
def _open(source: str | Path | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(source, (str, Path)):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source


def read_records(
    source: str | Path | BinaryIO,
    format: Format | None = None,
    *,
    encoding: Encoding = "auto",
    parser: Parser = "auto",
    start_offset: int = 0,
    skip_records: int = 0,
) -> Iterator[ReadResult]:
    """Stream the records of a file (a path or a binary stream).

    ``format`` is detected from the content unless given.  ``encoding``
    overrides ISO 2709's leader/09 ("utf-8" forces UTF-8, "marc-8" forces
    MARC-8).  ``parser`` picks the ISO 2709 decoder: ``pymarc``, ``rmarc``
    (the Rust rmarc package: same records, faster) or ``auto`` (rmarc when it
    is installed, else pymarc).

    To resume, pass the ``end_offset`` and ``number`` of the last record
    handled as ``start_offset`` and ``skip_records``: ISO 2709 and JSON seek
    straight there; MARCXML (which has no byte offsets) reads and skips that
    many records.  Record numbers always count from the start of the file.
    """
    with _open(source) as stream:
        head = _peek(stream)
        if not head.strip(_LEADING_JUNK):
            return  # an empty file holds no records
        fmt = format or detect_format(head)
        seek = bool(start_offset) and fmt != "marcxml"
        if seek:
            stream.seek(start_offset)
        base, numbered = (start_offset, skip_records) if seek else (0, 0)
        if fmt == "iso2709":
            results = _read_iso2709(stream, base, _Decoder(parser, encoding), numbered)
        elif fmt == "marcxml":
            results = _read_marcxml(stream)
        elif fmt == "json":
            results = _read_json(stream, base, numbered)
        else:
            raise UnknownFormat(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        for result in results:
            if result.number > skip_records:
                yield result


def _peek(stream: BinaryIO) -> bytes:
    position = stream.tell()
    head = stream.read(64)
    stream.seek(position)
    return head


def _failure_result(number: int, offset: int | None, end: int | None, reason: str, detail: str, **kw) -> ReadResult:
    return ReadResult(number, offset, end, failure=ReadFailure(number, offset, reason, detail, **kw))


def _checked(
    number: int, offset: int | None, end: int | None, record: pymarc.Record, raw: bytes | None = None, **kw
) -> ReadResult:
    """Apply the structural checks every record must pass, whatever its format.

    ``raw`` bytes come checked as valid UTF-8: without an encoded U+FFFD in
    them, no value of the record holds one."""
    problem = validation.structural_problem(record, text_checked=raw is not None and _ENCODED_FFFD not in raw)
    if problem:
        return _failure_result(
            number, offset, end, problem.code, problem.message, control_number=control_number(record), **kw
        )
    return ReadResult(number, offset, end, record=record, raw=raw)


# --- ISO 2709 -------------------------------------------------------------


class _Decoder:
    """Turns one raw ISO 2709 record into a pymarc Record in UTF-8."""

    def __init__(self, parser: Parser, encoding: Encoding) -> None:
        if parser not in ("auto", "pymarc", "rmarc"):
            raise ValueError(f"unknown parser {parser!r}; expected auto, pymarc or rmarc")
        if parser == "auto":
            parser = "rmarc" if importlib.util.find_spec("rmarc") else "pymarc"
        if encoding not in ("auto", "utf-8", "marc-8"):
            raise ValueError(f"unknown encoding {encoding!r}; expected auto, utf-8 or marc-8")
        self.encoding = encoding
        self._parse = self._parse_rmarc if parser == "rmarc" else self._parse_pymarc
        if parser == "rmarc":
            import rmarc._rmarc  # optional: fails here, early, when not installed

            self._rust = rmarc._rmarc

    def expects_utf8(self, chunk: bytes) -> bool:
        return self.encoding == "utf-8" or (self.encoding == "auto" and chunk[9:10] == b"a")

    def __call__(self, chunk: bytes) -> pymarc.Record:
        if self.encoding == "marc-8":
            chunk = chunk[:9] + b" " + chunk[10:]
        record = self._parse(chunk)
        record.leader[9] = "a"  # the record is Unicode from here on
        return record

    def _parse_pymarc(self, chunk: bytes) -> pymarc.Record:
        return pymarc.Record(data=chunk, force_utf8=self.encoding == "utf-8", hide_utf8_warnings=True)

    def _parse_rmarc(self, chunk: bytes) -> pymarc.Record:
        leader, fields = self._rust.decode_marc_fields(
            chunk, pymarc.Field, pymarc.Subfield, pymarc.Indicators, force_utf8=self.encoding == "utf-8", quiet=True
        )
        record = pymarc.Record(leader=leader)
        record.fields = fields
        return record


def _iso2709_chunks(stream: BinaryIO, base: int) -> Iterator[tuple[int, bytes, bool]]:
    """Split a stream on record terminators: (offset, bytes, terminated).

    A run of more than 99,999 bytes without a terminator cannot be a record;
    it is handed out (unterminated) and skipped, so memory stays bounded.
    """
    buffer = b""
    while block := stream.read(_BLOCK):
        buffer += block
        start = 0
        while (end := buffer.find(RECORD_TERMINATOR, start)) != -1:
            yield base + start, buffer[start : end + 1], True
            start = end + 1
        if len(buffer) - start > MAX_RECORD_LENGTH:
            yield base + start, buffer[start:], False
            start = len(buffer)
        buffer = buffer[start:]
        base += start
    if buffer.strip(_LEADING_JUNK):
        yield base, buffer, False


def _read_iso2709(stream: BinaryIO, base: int, decode: _Decoder, number: int) -> Iterator[ReadResult]:
    resyncing = False  # inside an oversized unterminated run: its tail is not a new record
    for offset, chunk, terminated in _iso2709_chunks(stream, base):
        end = offset + len(chunk)
        stripped = chunk.lstrip(_LEADING_JUNK)
        offset += len(chunk) - len(stripped)
        if resyncing:
            resyncing = not terminated
            continue
        number += 1
        if not terminated and len(chunk) > MAX_RECORD_LENGTH:
            resyncing = True
        yield _read_one_iso2709(number, offset, end, stripped, terminated, decode)


def _read_one_iso2709(
    number: int, offset: int, end: int, chunk: bytes, terminated: bool, decode: _Decoder
) -> ReadResult:
    def fail(reason: str, detail: str) -> ReadResult:
        return _failure_result(number, offset, end, reason, detail, control_number=_peek_control_number(chunk))

    if len(chunk) < LEADER_LENGTH or not chunk[:5].isdigit():
        return fail("bad_leader", f"leader must start with a 5-digit record length, got {chunk[:24]!r}")
    declared = int(chunk[:5])
    if not terminated:
        return fail("truncated", f"no record terminator: {len(chunk)} bytes of a {declared}-byte record")
    if declared != len(chunk):
        return fail("bad_length", f"leader gives length {declared} but the record has {len(chunk)} bytes")
    if not chunk[12:17].isdigit():
        return fail("bad_leader", f"base address of data {chunk[12:17]!r} is not numeric")
    directory_problem = _directory_problem(chunk)
    if directory_problem:
        return fail("bad_directory", directory_problem)
    encoding_problem = _utf8_problem(chunk, decode)
    if encoding_problem:
        return fail("bad_encoding", encoding_problem)
    try:
        record = decode(chunk)
    except UnicodeDecodeError as exc:
        return fail("bad_encoding", f"invalid UTF-8: {exc.reason} at byte {exc.start} of a field")
    except (pymarc.PymarcException, ValueError, IndexError) as exc:
        return fail("bad_record", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return _checked(number, offset, end, record, raw=chunk if decode.expects_utf8(chunk) else None)


def _directory_problem(chunk: bytes) -> str | None:
    """Check the directory entries against the data area; None when sound."""
    base_address = int(chunk[12:17])
    if base_address > len(chunk) or chunk[base_address - 1 : base_address] != FIELD_TERMINATOR:
        return f"base address {base_address} does not follow the directory's field terminator"
    directory = chunk[LEADER_LENGTH : base_address - 1]
    if len(directory) % DIRECTORY_ENTRY_LENGTH:
        return f"directory length {len(directory)} is not a multiple of 12"
    data_length = len(chunk) - base_address - 1
    if _SOUND_DIRECTORY.fullmatch(directory):  # the common case, without a Python step per entry
        ends = [int(length) + int(start) for length, start in _ENTRY_NUMBERS.findall(directory)]
        if max(ends, default=0) <= data_length:
            return None
    for i in range(0, len(directory), DIRECTORY_ENTRY_LENGTH):
        entry = directory[i : i + DIRECTORY_ENTRY_LENGTH]
        if not entry[3:].isdigit():
            return f"directory entry {entry!r} has a non-numeric length or start"
        length, start = int(entry[3:7]), int(entry[7:12])
        if start + length > data_length:
            return f"field {entry[:3].decode('latin-1')} runs past the end of the record"
    return None


def _utf8_problem(chunk: bytes, decode: _Decoder) -> str | None:
    """Invalid UTF-8 in a record that declares (or is forced to) UTF-8.

    Checked on the raw bytes because pymarc silently drops undecodable
    subfield codes.
    """
    if not decode.expects_utf8(chunk):
        return None
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 ({exc.reason}) at byte {exc.start} of the record"
    return None


def _peek_control_number(chunk: bytes) -> str | None:
    """The 001 of a raw record, read leniently so broken records can be named."""
    try:
        base_address = int(chunk[12:17])
        for i in range(LEADER_LENGTH, base_address - 1, DIRECTORY_ENTRY_LENGTH):
            if chunk[i : i + 3] == b"001":
                length, start = int(chunk[i + 3 : i + 7]), int(chunk[i + 7 : i + 12])
                value = chunk[base_address + start : base_address + start + length]
                return value.rstrip(FIELD_TERMINATOR).decode("utf-8", "replace").strip() or None
    except (ValueError, IndexError):
        return None
    return None


# --- MARCXML --------------------------------------------------------------


def _read_marcxml(stream: BinaryIO) -> Iterator[ReadResult]:
    number = 0
    events = etree.iterparse(
        stream, events=("end",), tag=(f"{{{MARCXML_NS}}}record", "record"), resolve_entities=False, no_network=True
    )
    try:
        for _, element in events:
            number += 1
            yield _record_from_xml(number, element)
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        yield _failure_result(
            number + 1, None, None, "bad_xml", f"{exc.msg}; the rest of the file was not read", line=line
        )


def _record_from_xml(number: int, element: etree._Element) -> ReadResult:
    line = element.sourceline
    record = pymarc.Record()
    record.fields = []
    leader_text = None
    try:
        for child in element:
            name = etree.QName(child).localname
            if name == "leader":
                leader_text = child.text or ""
            elif name == "controlfield":
                record.add_field(pymarc.Field(tag=child.get("tag", ""), data=child.text or ""))
            elif name == "datafield":
                record.add_field(_xml_datafield(child))
    except ValueError as exc:
        return _failure_result(number, None, None, "bad_record", str(exc), line=line)
    cn = control_number(record)
    if leader_text is None or len(leader_text) != LEADER_LENGTH:
        return _failure_result(
            number,
            None,
            None,
            "bad_leader",
            f"leader must be 24 characters, got {leader_text!r}",
            control_number=cn,
            line=line,
        )
    record.leader = pymarc.Leader(leader_text[:9] + "a" + leader_text[10:])
    return _checked(number, None, None, record, line=line)


def _xml_datafield(element: etree._Element) -> pymarc.Field:
    subfields = [
        pymarc.Subfield(code=sub.get("code", ""), value=sub.text or "")
        for sub in element
        if etree.QName(sub).localname == "subfield"
    ]
    indicators = pymarc.Indicators(element.get("ind1", " "), element.get("ind2", " "))
    return pymarc.Field(tag=element.get("tag", ""), indicators=indicators, subfields=subfields)


# --- MARC-in-JSON ---------------------------------------------------------

_JSON_SEPARATORS = re.compile(r"[\s,\[\]]*")
_NEXT_OBJECT = re.compile(r"\n\s*\{")
_MAX_JSON_RECORD = 1 << 20  # characters buffered before a syntax error is final


def _json_objects(stream: BinaryIO, base: int) -> Iterator[tuple[int, int, object]]:
    """Stream the objects of a JSON array or of newline-delimited JSON.

    Yields (byte offset, end offset, object or JSONDecodeError).  After a
    syntax error the reader skips to the next line that opens an object.
    """
    decoder = json.JSONDecoder()
    incremental = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer, eof = "", False

    def fill() -> None:
        nonlocal buffer, eof
        block = stream.read(_BLOCK)
        eof = not block
        buffer += incremental.decode(block, final=eof)

    while True:
        skip = _JSON_SEPARATORS.match(buffer).end()
        base += _utf8_length(buffer[:skip])
        buffer = buffer[skip:]
        if len(buffer) < _BLOCK and not eof:
            fill()
            continue
        if not buffer:
            return
        try:
            obj, end = decoder.raw_decode(buffer)
        except json.JSONDecodeError as exc:
            if not eof and len(buffer) < _MAX_JSON_RECORD:
                fill()
                continue
            following = _NEXT_OBJECT.search(buffer, 1)
            obj, end = exc, (following.start() + 1 if following else len(buffer))
        consumed = _utf8_length(buffer[:end])
        yield base, base + consumed, obj
        base += consumed
        buffer = buffer[end:]


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def _read_json(stream: BinaryIO, base: int, records_before: int) -> Iterator[ReadResult]:
    for number, (offset, end, obj) in enumerate(_json_objects(stream, base), start=records_before + 1):
        if isinstance(obj, json.JSONDecodeError):
            yield _failure_result(number, offset, end, "bad_json", f"{obj.msg} (line {obj.lineno} of the record)")
            continue
        try:
            record = _record_from_json(obj)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            yield _failure_result(number, offset, end, "bad_record", f"not a MARC-in-JSON record: {exc}")
            continue
        if len(str(record.leader)) != LEADER_LENGTH:
            yield _failure_result(number, offset, end, "bad_leader", f"leader must be 24 characters: {record.leader}")
            continue
        yield _checked(number, offset, end, record)


def _record_from_json(obj: object) -> pymarc.Record:
    if not isinstance(obj, dict) or not isinstance(obj.get("fields"), list):
        raise ValueError("expected an object with 'leader' and 'fields'")
    leader = str(obj.get("leader", ""))
    record = pymarc.Record()
    record.fields = []
    for entry in obj["fields"]:
        ((tag, value),) = entry.items()
        if isinstance(value, str):
            record.add_field(pymarc.Field(tag=tag, data=value))
        else:
            subfields = [pymarc.Subfield(code, text) for sub in value["subfields"] for code, text in sub.items()]
            indicators = pymarc.Indicators(value.get("ind1", " "), value.get("ind2", " "))
            record.add_field(pymarc.Field(tag=tag, indicators=indicators, subfields=subfields))
    record.leader = pymarc.Leader(leader[:9] + "a" + leader[10:] if len(leader) == LEADER_LENGTH else leader)
    return record
