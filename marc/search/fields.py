"""Which MARC 21 fields feed which index (the one place that says so)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pymarc

from marc.search.normalize import fold, identifier
from marc.search.query import Index

# tag -> subfield codes taken (None: every subfield)
INDEX_FIELDS: dict[Index, dict[str, str | None]] = {
    Index.TITLE: {"245": "abnp", "246": "abnp", "240": "adfkmnoprs", "130": "adfkmnoprs", "730": "adfkmnoprst", "740": "anp", "440": "anp", "490": "a", "830": "anp"},
    Index.AUTHOR: {t: "abcdq" for t in ("100", "110", "111", "700", "710", "711")},
    Index.SUBJECT: {t: "abcdvxyz" for t in ("600", "610", "611", "630", "650", "651", "653", "655")},
    Index.ISBN: {"020": "az"},
    Index.ISSN: {"022": "ayz", "490": "x", "440": "x"},
    Index.CONTROL: {"001": None, "010": "a", "035": "a"},
}
# Every index ``extract`` gives values for, in the order it gives them.
EXTRACTED_INDEXES: tuple[Index, ...] = (*INDEX_FIELDS, Index.YEAR, Index.LANGUAGE, Index.MATERIAL, Index.ANY)
# The "any" index: every data field below 900 except codes and holdings.
ANY_EXCLUDED = {"020", "022", "852", "856", "880"}

# Leader/06 (type of record) and /07 (bibliographic level) -> material type.
MATERIAL_BY_TYPE = {
    "a": "book", "t": "book", "c": "score", "d": "score", "e": "map", "f": "map",
    "g": "video", "i": "audio", "j": "music", "k": "image", "m": "computer",
    "o": "kit", "p": "mixed", "r": "object",
}
SERIAL_LEVELS = {"b", "i", "s"}
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_ISXN = re.compile(r"[0-9Xx-]{8,17}")


def material_type(leader: str) -> str:
    if len(leader) < 8:
        return "unknown"
    if leader[6] in ("a", "t") and leader[7] in SERIAL_LEVELS:
        return "serial"
    return MATERIAL_BY_TYPE.get(leader[6], "unknown")


def publication_year(record: pymarc.Record) -> int | None:
    f008 = record.get("008")
    if f008 is not None and len(f008.data) >= 11 and f008.data[7:11].isdigit():
        return int(f008.data[7:11])
    for tag in ("264", "260"):
        for f in record.get_fields(tag):
            for value in f.get_subfields("c"):
                m = _YEAR.search(value)
                if m:
                    return int(m.group(1))
    return None


def language(record: pymarc.Record) -> str | None:
    f008 = record.get("008")
    if f008 is not None and len(f008.data) >= 38 and f008.data[35:38].strip():
        return f008.data[35:38].strip().lower()
    f041 = record.get("041")
    if f041 is not None and f041.get_subfields("a"):
        return f041.get_subfields("a")[0][:3].lower()
    return None


# tag -> the (index, subfield codes) it feeds: ``extract`` reads each field once.
_INDEXES_BY_TAG: dict[str, list[tuple[Index, str | None]]] = {}
for _index, _spec in INDEX_FIELDS.items():
    for _tag, _codes in _spec.items():
        _INDEXES_BY_TAG.setdefault(_tag, []).append((_index, _codes))


def _field_values(record: pymarc.Record) -> tuple[dict[Index, list[str]], list[str]]:
    """The text of every index in ``INDEX_FIELDS``, and of the "any" index, in
    one pass over the record's fields (values in field order)."""
    values: dict[Index, list[str]] = {index: [] for index in INDEX_FIELDS}
    any_values: list[str] = []
    for f in record.fields:
        tag = f.tag
        feeds = _INDEXES_BY_TAG.get(tag)
        if f.control_field:
            if feeds:
                for index, _ in feeds:
                    values[index].append(f.data.strip())
            continue
        subfields = f.subfields
        if feeds:
            for index, codes in feeds:
                parts = [value for code, value in subfields if codes is None or code in codes]
                if parts:
                    values[index].append(" ".join(parts))
        if tag < "900" and tag not in ANY_EXCLUDED:
            any_values.append(" ".join([value for _, value in subfields]))
    return values, any_values


def _isxn(values: list[str]) -> list[str]:
    """ISBN/ISSN as the bare digits, hyphens removed, qualifiers dropped."""
    out = []
    for v in values:
        m = _ISXN.search(v)
        if m:
            out.append(identifier(m.group(0)))
    return out


@dataclass
class IndexedRecord:
    """What the index keeps of one record: text per index plus sortable facts."""

    values: dict[Index, list[str]] = field(default_factory=dict)
    year: int | None = None
    sort_title: str = ""


def extract(record: pymarc.Record) -> IndexedRecord:
    values, any_values = _field_values(record)
    values[Index.ISBN] = _isxn(values[Index.ISBN])
    values[Index.ISSN] = _isxn(values[Index.ISSN])
    year = publication_year(record)
    lang = language(record)
    values[Index.YEAR] = [str(year)] if year else []
    values[Index.LANGUAGE] = [lang] if lang else []
    values[Index.MATERIAL] = [material_type(str(record.leader))]
    values[Index.ANY] = any_values
    title = values[Index.TITLE][0] if values[Index.TITLE] else ""
    return IndexedRecord(values=values, year=year, sort_title=fold(title)[:200])
