"""Stored ISO 2709 records turned into what OPAC protocols return.

A small direct ISO 2709 reader (``parse_iso2709``) feeds every output, because
building pymarc objects for each of the 10 records of each response costs
more than the search itself.  Outputs: MARCXML, simple Dublin Core, SUTRS
text, and MARCXML with holdings (852 location + 876 item status per copy).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from marc.search.availability import CopyState, CopyStatus

MARCXML_NS = "http://www.loc.gov/MARC21/slim"
DC_NS = "http://purl.org/dc/elements/1.1/"
SRW_DC_NS = "info:srw/schema/1/dc-schema"

FIELD_END = b"\x1e"
SUBFIELD = b"\x1f"
# Characters XML 1.0 cannot carry; MARC data sometimes has them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class DataField:
    tag: str
    ind1: str
    ind2: str
    subfields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ControlField:
    tag: str
    data: str


@dataclass(frozen=True)
class RawRecord:
    leader: str
    fields: tuple[ControlField | DataField, ...]

    def values(self, tag: str, codes: str) -> list[str]:
        return [
            " ".join(v for c, v in f.subfields if c in codes)
            for f in self.fields
            if isinstance(f, DataField) and f.tag == tag and any(c in codes for c, _ in f.subfields)
        ]

    def control(self, tag: str) -> str | None:
        return next((f.data for f in self.fields if isinstance(f, ControlField) and f.tag == tag), None)


def _text(raw: bytes) -> str:
    return _XML_ILLEGAL.sub("", raw.decode("utf-8", "replace"))


def parse_iso2709(data: bytes) -> RawRecord:
    """Read one ISO 2709 record (raises ValueError on a broken leader or directory)."""
    if len(data) < 25 or not data[12:17].isdigit():
        raise ValueError("not an ISO 2709 record: bad leader")
    base = int(data[12:17])
    directory = data[24 : base - 1]
    fields: list[ControlField | DataField] = []
    for k in range(0, len(directory) - 11, 12):
        entry = directory[k : k + 12]
        tag = entry[:3].decode("ascii", "replace")
        length, start = int(entry[3:7]), int(entry[7:12])
        body = data[base + start : base + start + length].rstrip(FIELD_END)
        if tag < "010" and tag.isdigit():
            fields.append(ControlField(tag, _text(body)))
            continue
        indicators = _text(body[:2]).ljust(2)
        subs = tuple((_text(p[:1]), _text(p[1:])) for p in body.split(SUBFIELD)[1:] if p)
        fields.append(DataField(tag, indicators[0], indicators[1], subs))
    return RawRecord(_text(data[:24]), tuple(fields))


# ---------------------------------------------------------------- MARCXML
# Bytes that XML 1.0 cannot carry (MARC delimiters are split off before this).
_ILLEGAL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13))
_ILLEGAL_BUT_DELIMITER = _ILLEGAL_BYTES.replace(SUBFIELD, b"")


def _x(raw: bytes, illegal: bytes = _ILLEGAL_BYTES) -> bytes:
    """Escape UTF-8 bytes for XML text and attribute values, dropping bytes XML cannot carry."""
    return (
        raw.translate(None, illegal)
        .replace(b"&", b"&amp;")
        .replace(b"<", b"&lt;")
        .replace(b">", b"&gt;")
        .replace(b'"', b"&quot;")
    )


def _datafield_xml(f: DataField) -> str:
    subs = "".join(f'<subfield code="{_xs(c)}">{_xs(v)}</subfield>' for c, v in f.subfields)
    return f'<datafield tag="{_xs(f.tag)}" ind1="{_xs(f.ind1)}" ind2="{_xs(f.ind2)}">{subs}</datafield>'


def _xs(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _iso2709_to_xml_fields(data: bytes) -> bytes:
    """The leader and fields of an ISO 2709 record as MARCXML elements, straight from bytes."""
    if len(data) < 25 or not data[12:17].isdigit():
        raise ValueError("not an ISO 2709 record: bad leader")
    data.decode("utf-8")  # refuse invalid UTF-8 here; callers fall back to the tolerant path
    base = int(data[12:17])
    directory = data[24 : base - 1]
    out = [b"<leader>", _x(data[:24]), b"</leader>"]
    for k in range(0, len(directory) - 11, 12):
        tag = directory[k : k + 3]
        length, start = int(directory[k + 3 : k + 7]), int(directory[k + 7 : k + 12])
        body = data[base + start : base + start + length].rstrip(FIELD_END)
        tag = tag if tag.isalnum() else _x(tag)
        if tag < b"010" and tag.isdigit():
            out += [b'<controlfield tag="', tag, b'">', _x(body), b"</controlfield>"]
            continue
        ind1, ind2 = (_x(body[i : i + 1] or b" ") for i in (0, 1))
        out += [b'<datafield tag="', tag, b'" ind1="', ind1, b'" ind2="', ind2, b'">']
        # Escaping never produces a subfield delimiter: escape the field once, split after.
        for part in _x(body[2:], _ILLEGAL_BUT_DELIMITER).split(SUBFIELD)[1:]:
            if part:
                code = part[:1]
                if code == b"&":  # an escaped special character used as a subfield code
                    end = part.index(b";") + 1
                    code, part = part[:end], part[end - 1 :]
                out += [b'<subfield code="', code, b'">', part[1:], b"</subfield>"]
        out.append(b"</datafield>")
    return b"".join(out)


@functools.lru_cache(maxsize=4096)
def marcxml_from_iso2709(data: bytes) -> str:
    """MARCXML of stored bytes: the fast path for valid UTF-8 records.  Cached by
    the bytes themselves, so an edited record is never served stale."""
    try:
        inner = _iso2709_to_xml_fields(data).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return marcxml(parse_iso2709(data))
    return f'<record xmlns="{MARCXML_NS}">{inner}</record>'


def marcxml(record: RawRecord, extra: Sequence[DataField] = ()) -> str:
    """One ``<record>`` in the MARC21 slim namespace."""
    out = [f"<leader>{_xs(record.leader)}</leader>"]
    for f in record.fields:
        if isinstance(f, ControlField):
            out.append(f'<controlfield tag="{_xs(f.tag)}">{_xs(f.data)}</controlfield>')
        else:
            out.append(_datafield_xml(f))
    out.extend(_datafield_xml(f) for f in extra)
    return f'<record xmlns="{MARCXML_NS}">{"".join(out)}</record>'


# ---------------------------------------------------------------- holdings
STATUS_TEXT = {
    CopyState.ON_SHELF: "Available",
    CopyState.CHECKED_OUT: "Checked out",
    CopyState.ON_HOLD_SHELF: "On hold shelf",
    CopyState.IN_LIBRARY_ONLY: "In library use only",
    CopyState.UNAVAILABLE: "Not available",
}


def status_text(copy: CopyStatus) -> str:
    text = STATUS_TEXT[copy.state]
    if copy.state is CopyState.CHECKED_OUT and copy.due is not None:
        text += f", due {copy.due.date().isoformat()}"
    if copy.note:
        text += f" ({copy.note})"
    return text


def holdings_fields(copies: Sequence[CopyStatus]) -> list[DataField]:
    """Per copy: 852 (where it is) and 876 (item status; $j status code, $d due date)."""
    out = []
    for copy in copies:
        location = [("b", copy.branch), ("c", copy.location), ("h", copy.call_number), ("p", copy.barcode), ("t", copy.copy_number), ("3", copy.volume), ("z", status_text(copy))]
        item = [("p", copy.barcode), ("j", copy.state.value), ("d", copy.due.isoformat() if copy.due else None), ("t", copy.copy_number)]
        out.append(DataField("852", " ", " ", tuple((c, v) for c, v in location if v)))
        out.append(DataField("876", " ", " ", tuple((c, v) for c, v in item if v)))
    return out


def marcxml_with_holdings(record: RawRecord, copies: Sequence[CopyStatus]) -> str:
    bib = RawRecord(record.leader, tuple(f for f in record.fields if f.tag not in ("852", "876")))
    return marcxml(bib, holdings_fields(copies))


# ---------------------------------------------------------------- Dublin Core
DC_MAP = (
    ("title", "245", "abnp"),
    ("creator", "100", "abcdq"),
    ("creator", "110", "ab"),
    ("creator", "700", "abcdq"),
    ("subject", "600", "abcdq"),
    ("subject", "650", "axyz"),
    ("subject", "651", "axyz"),
    ("publisher", "260", "b"),
    ("publisher", "264", "b"),
    ("date", "260", "c"),
    ("date", "264", "c"),
    ("description", "520", "a"),
    ("identifier", "020", "a"),
    ("identifier", "022", "a"),
)


def dublin_core(record: RawRecord) -> str:
    """The SRU ``info:srw/schema/1/dc-v1.1`` record."""
    parts = []
    for element, tag, codes in DC_MAP:
        for value in record.values(tag, codes):
            value = value.strip(" /:;,.")
            if element == "identifier":
                value = "urn:" + ("isbn:" if tag == "020" else "issn:") + value.split()[0]
            parts.append(f"<dc:{element}>{escape(value)}</dc:{element}>")
    f008 = record.control("008")
    if "<dc:date>" not in "".join(parts) and f008 and f008[7:11].isdigit():
        parts.append(f"<dc:date>{f008[7:11]}</dc:date>")
    if f008 and len(f008) >= 38 and f008[35:38].strip():
        parts.append(f"<dc:language>{escape(f008[35:38])}</dc:language>")
    parts.append(f"<dc:type>{escape(_dc_type(record.leader))}</dc:type>")
    return f'<srw_dc:dc xmlns:srw_dc="{SRW_DC_NS}" xmlns:dc="{DC_NS}">{"".join(parts)}</srw_dc:dc>'


def _dc_type(leader: str) -> str:
    kind = leader[6:7]
    return {"a": "Text", "t": "Text", "e": "Image", "k": "Image", "g": "MovingImage", "i": "Sound", "j": "Sound", "m": "Software"}.get(kind, "Text")


# ---------------------------------------------------------------- SUTRS
def sutrs(record: RawRecord) -> str:
    """A plain-text rendering, one field a line (Z39.50 SUTRS)."""
    lines = [f"LDR {record.leader}"]
    for f in record.fields:
        if isinstance(f, ControlField):
            lines.append(f"{f.tag} {f.data}")
        else:
            lines.append(f"{f.tag} {f.ind1}{f.ind2} " + " ".join(f"${c} {v}" for c, v in f.subfields))
    return "\n".join(lines) + "\n"
