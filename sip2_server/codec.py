"""Bytes <-> :class:`Message`: framing-free parsing and formatting of one SIP2 frame.

A frame is ``<2-digit id><fixed fields><variable fields>[AY<n>][AZ<checksum>]``
where every variable field is ``<2-char id><value>|``.  Error detection (the
AY sequence number and AZ checksum) is verified on input when present and
added on output when asked for.  The checksum is the two's complement of the
16-bit sum of every byte from the start of the frame up to and including
``AZ``, written as four upper-case hex digits.

Lenient where real terminals differ (lower-case or short checksums, checksums
summed over characters instead of bytes, missing trailing ``|``, vendor
fields, a trailing transaction date left out); strict where the frame cannot mean anything (short fixed fields,
impossible dates, undecodable bytes, control characters).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from . import errors
from .fields import (
    CHECKSUM,
    DATE_LENGTH,
    FIELD_DELIMITER,
    MESSAGES,
    SEQUENCE_NUMBER,
    FixedField,
    Kind,
    MessageSpec,
)
from .message import FieldList, Message

TERMINATORS = ("\r", "\r\n")
DEFAULT_MAX_LINE = 8192

_HEX_CHECKSUM = re.compile(rb"[0-9A-Fa-f]{1,4}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})(.{4})(\d{2})(\d{2})(\d{2})")
_UNSAFE_IN_VALUE = re.compile(r"[|\x00-\x1f\x7f]")


# --------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------

def checksum(data: bytes) -> str:
    """The AZ value for ``data`` (everything from the message id up to and including ``AZ``)."""
    return f"{-sum(data) & 0xFFFF:04X}"


def _checksum_matches(covered: bytes, given: str, encoding: str) -> bool:
    value = int(given, 16)
    if (sum(covered) + value) & 0xFFFF == 0:
        return True
    # Some clients sum decoded characters instead of encoded bytes; the two
    # only differ when the frame holds non-ASCII text.
    if covered.isascii():
        return False
    try:
        text = covered.decode(encoding)
    except UnicodeDecodeError:
        return False
    return (sum(map(ord, text)) + value) & 0xFFFF == 0


# --------------------------------------------------------------------------
# Dates: YYYYMMDDZZZZHHMMSS
# --------------------------------------------------------------------------

def _military_zones() -> dict[str, timezone]:
    """Single-letter time zones (Z = UTC, A-M east without J, N-Y west) used in ZZZZ."""
    zones = {"Z": UTC}
    for hours, letter in enumerate("ABCDEFGHIKLM", start=1):
        zones[letter] = timezone(timedelta(hours=hours))
    for hours, letter in enumerate("NOPQRSTUVWXY", start=1):
        zones[letter] = timezone(timedelta(hours=-hours))
    return zones


_ZONES = _military_zones()
BLANK_DATE = " " * DATE_LENGTH


def format_date(moment: datetime | None) -> str:
    """Render a SIP2 date.  Naive = local time (blank zone); aware = UTC with ``Z``; None = blanks."""
    if moment is None:
        return BLANK_DATE
    zone = "    "
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
        zone = "   Z"
    return (f"{moment.year:04d}{moment.month:02d}{moment.day:02d}{zone}"
            f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}")


def parse_date(text: str) -> datetime | None:
    """Read a SIP2 date.  Blank -> None; blank zone -> naive local time; zone letter -> aware.

    Zone text that is not a single zone letter (vendors write ``EST``, ``UTC``...)
    is ignored and the time read as local.
    """
    if not text.strip():
        return None
    match = _DATE.fullmatch(text)
    if not match:
        raise errors.InvalidFixedField(f"not a SIP2 date (YYYYMMDDZZZZHHMMSS): {text!r}")
    year, month, day, zone, hour, minute, second = match.groups()
    tz = _ZONES.get(zone[-1]) if zone[:3].strip() == "" else None
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz)
    except ValueError as exc:
        raise errors.InvalidFixedField(f"impossible date {text!r}: {exc}") from None


# --------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Codec:
    """Parses and formats frames for one terminal's wire settings.

    ``encoding`` must be ASCII-compatible (utf-8, cp1252, latin-1, cp850, ...);
    ``terminator`` is what we send (CR or CRLF; on input CR, LF and CRLF are
    all accepted by the framer); ``strict`` makes a missing required field of
    an incoming message an error instead of something handlers check.
    """

    encoding: str = "utf-8"
    terminator: str = "\r"
    max_line: int = DEFAULT_MAX_LINE
    strict: bool = False

    def __post_init__(self) -> None:
        if self.terminator not in TERMINATORS:
            raise ValueError(f"terminator must be CR or CRLF, not {self.terminator!r}")
        if "AZ|".encode(self.encoding) != b"AZ|":
            raise ValueError(f"encoding {self.encoding!r} is not ASCII-compatible")

    # -- input ---------------------------------------------------------------

    def decode(self, frame: bytes) -> Message:
        """Parse one frame (with or without its terminator) into a Message.

        Raises a :class:`errors.FrameError` subclass saying what is wrong.
        """
        frame = frame.rstrip(b"\r\n")
        if len(frame) > self.max_line:
            raise errors.LineTooLong(f"frame of {len(frame)} bytes exceeds the limit of {self.max_line}")
        spec = _message_spec(frame)
        body, checksummed = self._strip_checksum(frame)
        text = self._decode_text(body)
        fixed, rest = _parse_fixed(spec, text)
        fields = _parse_variable(rest)
        message = Message(spec.id, fixed, fields, _pop_sequence(fields), checksummed)
        if self.strict and (missing := message.missing_required()):
            raise errors.MissingRequiredField(f"{spec.name} ({spec.id}) lacks required field(s) {', '.join(missing)}")
        return message

    def _strip_checksum(self, frame: bytes) -> tuple[bytes, bool]:
        # The last "AZ" is the only candidate: a checksum is hex digits, so it cannot hold another "AZ".
        start = frame.rfind(b"AZ")
        given = frame[start + 2 :]
        if start < 2 or not _HEX_CHECKSUM.fullmatch(given):
            return frame, False
        covered = frame[: start + 2]
        if not _checksum_matches(covered, given.decode("ascii"), self.encoding):
            raise errors.ChecksumMismatch(
                f"checksum AZ{given.decode('ascii')} does not match the frame (expected AZ{checksum(covered)})"
            )
        return frame[:start], True

    def _decode_text(self, body: bytes) -> str:
        try:
            text = body.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise errors.InvalidEncoding(
                f"bytes {body[exc.start:exc.end]!r} at offset {exc.start} are not valid {self.encoding}"
            ) from None
        if control := _CONTROL.search(text):
            raise errors.ControlCharacter(f"control character {control.group()!r} at offset {control.start()}")
        return text

    # -- output --------------------------------------------------------------

    def encode(self, message: Message, *, sequence: int | None = None, checksum: bool = False) -> bytes:
        """Format a message as one terminated frame.

        Fixed values may be given as text (exact wire form; short text/flag
        values are blank-padded, short numbers zero-padded), ``int`` (numbers),
        ``bool`` (flags: Y/N) or ``datetime``/``None`` (dates).  Variable
        fields go out in the layout's order, vendor fields last, and values
        have ``|`` and control characters replaced by blanks so they cannot
        break the frame.  Characters the encoding cannot represent become ``?``.
        """
        spec = MESSAGES.get(message.id)
        if spec is None:
            raise errors.UnknownMessage(f"cannot format unknown message id {message.id!r}")
        if missing := message.missing_required():
            raise errors.MissingRequiredField(f"{spec.name} ({spec.id}) lacks required field(s) {', '.join(missing)}")
        parts = [spec.id, _format_fixed(spec, message.fixed)]
        for code, value in _in_layout_order(spec, message.fields):
            if FIELD_DELIMITER in value or not value.isprintable():  # else nothing to replace: skip the regex
                value = _UNSAFE_IN_VALUE.sub(" ", value)
            parts.append(f"{code}{value}{FIELD_DELIMITER}")
        if sequence is not None:
            parts.append(f"{SEQUENCE_NUMBER}{sequence % 10}")
        data = "".join(parts).encode(self.encoding, errors="replace")
        if checksum:
            data += CHECKSUM.encode("ascii")
            data += _checksum_bytes(data)
        return data + self.terminator.encode("ascii")


def _checksum_bytes(data: bytes) -> bytes:
    return checksum(data).encode("ascii")


def _message_spec(frame: bytes) -> MessageSpec:
    head = frame[:2]
    spec = MESSAGES.get(head.decode("ascii", errors="replace"))
    if spec is None:
        if not frame:
            raise errors.FixedFieldTooShort("empty frame")
        raise errors.UnknownMessage(f"unknown message id {head!r}")
    return spec


def _parse_fixed(spec: MessageSpec, text: str) -> tuple[dict[str, str], str]:
    fixed: dict[str, str] = {}
    pos = 2
    for f in spec.fixed:
        if f is spec.fixed[-1] and _omitted_trailing_date(spec, f, text[pos : pos + 2]):
            fixed[f.name] = BLANK_DATE
            break
        value = text[pos : pos + f.length]
        if len(value) < f.length or FIELD_DELIMITER in value:
            raise errors.FixedFieldTooShort(
                f"{spec.name} ({spec.id}): fixed field {f.name} needs {f.length} characters at offset {pos}, "
                f"got {value.split(FIELD_DELIMITER)[0]!r}"
            )
        _check_fixed(spec, f, value)
        fixed[f.name] = value
        pos += f.length
    return fixed, text[pos:]


def _omitted_trailing_date(spec: MessageSpec, f: FixedField, head: str) -> bool:
    """True when a last fixed field that is a date is missing and the variable part starts instead.

    Unambiguous, since a date starts with digits or blanks, never with a
    field id; tolerated because some clients (the PyPI sip2 client's 65
    Renew All among them) leave the transaction date out.
    """
    return f.kind is Kind.DATE and any(v.code == head for v in spec.variable)


def _check_fixed(spec: MessageSpec, f: FixedField, value: str) -> None:
    if f.kind is Kind.DATE and not value.isspace():  # a blank date (no date) is valid
        try:
            parse_date(value)
        except errors.InvalidFixedField as exc:
            raise errors.InvalidFixedField(f"{spec.name} ({spec.id}): {f.name}: {exc}") from None
    elif f.kind is Kind.NUMBER and not (value.isdigit() and value.isascii() or value.isspace()):
        raise errors.InvalidFixedField(f"{spec.name} ({spec.id}): {f.name} must be {f.length} digits, got {value!r}")


def _parse_variable(rest: str) -> FieldList:
    fields = FieldList()
    for piece in rest.split(FIELD_DELIMITER):
        if not piece:
            continue
        code = piece[:2]
        if not (len(code) == 2 and code.isascii() and code.isalnum()):
            raise errors.MalformedField(f"variable field {piece[:20]!r} does not start with a two-character field id")
        fields.add(code, piece[2:])
    return fields


def _pop_sequence(fields: FieldList) -> int | None:
    values = fields.get_all(SEQUENCE_NUMBER)
    if not values:
        return None
    fields.remove_all(SEQUENCE_NUMBER)
    value = values[-1]
    if not (len(value) == 1 and value.isdigit()):
        raise errors.BadSequenceNumber(f"sequence number must be one digit 0-9, got {value!r}")
    return int(value)


def _format_fixed(spec: MessageSpec, values: Mapping[str, object]) -> str:
    out = []
    for f in spec.fixed:
        value = values.get(f.name, _MISSING)
        if type(value) is str and len(value) == f.length and f.kind in _AS_GIVEN:
            out.append(value)  # the common case: a flag or text of the right length, nothing to check
            continue
        if value is _MISSING:
            raise errors.MissingRequiredField(f"{spec.name} ({spec.id}) lacks fixed field {f.name}")
        out.append(_render_fixed(spec, f, value))
    return "".join(out)


_MISSING = object()
_AS_GIVEN = (Kind.FLAG, Kind.TEXT)
"""Fixed-field kinds whose text goes out as given (when it has the field's length)."""


def _render_fixed(spec: MessageSpec, f: FixedField, value: object) -> str:
    """One fixed field's wire text.  What we format ourselves (dates, flags from bools, numbers from ints)
    is valid by construction; text a handler gives is checked, except flags and free text (nothing to check)."""
    kind = f.kind
    if isinstance(value, str):  # the common case first: handlers give most flags as text
        text = value.zfill(f.length) if kind is Kind.NUMBER else value.ljust(f.length)
        checked = kind is Kind.DATE or kind is Kind.NUMBER
    elif kind is Kind.DATE and (value is None or isinstance(value, datetime)):
        return format_date(value)
    elif isinstance(value, bool):
        text, checked = "Y" if value else "N", False
    elif isinstance(value, int):
        text, checked = str(value).zfill(f.length), kind is Kind.DATE or value < 0
    else:
        raise TypeError(f"{spec.id} {f.name}: cannot render {type(value).__name__}")
    if len(text) != f.length:
        raise ValueError(f"{spec.name} ({spec.id}): {f.name} must be {f.length} characters, got {text!r}")
    if checked:
        _check_fixed(spec, f, text)
    return text


_LAYOUT_RANK = {spec.id: {v.code: i for i, v in enumerate(spec.variable)} for spec in MESSAGES.values()}
"""Per message id: each variable field's place in the layout (built once, used on every encode)."""


def _in_layout_order(spec: MessageSpec, fields: FieldList) -> list[tuple[str, str]]:
    rank = _LAYOUT_RANK[spec.id]
    last = len(rank)
    return sorted(fields, key=lambda item: rank.get(item[0], last))
