"""Match points of a bibliographic record: how an incoming record finds its stored twin.

Kinds, strongest first (the order in which the catalogue tries them):

- ``control``: 001 qualified by 003 ("DLC|  00000002"), or the bare 001
- ``system``: each 035 $a, e.g. "(OCoLC)5853149"
- ``isbn``: each valid 020 $a as ISBN-13 without hyphens
- ``issn``: each valid 022 $a as NNNN-NNNN

ISBN and ISSN normalising and check-digit validation come from python-stdnum.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pymarc
from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn
from stdnum.exceptions import ValidationError

KIND_ORDER: tuple[str, ...] = ("control", "system", "isbn", "issn")
_ISBN_CANDIDATE = re.compile(r"[0-9Xx][0-9Xx\- ]{8,16}[0-9Xx]")
_ISSN_CANDIDATE = re.compile(r"[0-9]{4}-?[0-9]{3}[0-9Xx]")


class MatchKey(NamedTuple):
    kind: str
    value: str


def control_number(record: pymarc.Record) -> str | None:
    field = record.get("001")
    return field.data.strip() or None if field else None


def control_source(record: pymarc.Record) -> str | None:
    field = record.get("003")
    return field.data.strip() or None if field else None


def normalize_isbn(text: str) -> str | None:
    """ISBN-13 digits for an ISBN-10 or -13 found in text ("0-19-852663-6 (pbk.)"); None if invalid."""
    candidate = _ISBN_CANDIDATE.search(text)
    if not candidate:
        return None
    try:
        return stdnum_isbn.to_isbn13(stdnum_isbn.validate(candidate.group()))
    except ValidationError:
        return None


def normalize_issn(text: str) -> str | None:
    candidate = _ISSN_CANDIDATE.search(text)
    if not candidate:
        return None
    try:
        return stdnum_issn.format(stdnum_issn.validate(candidate.group()))
    except ValidationError:
        return None


def match_keys(record: pymarc.Record) -> list[MatchKey]:
    """Every match point of a record, strongest kind first, without duplicates."""
    keys: list[MatchKey] = []
    number = control_number(record)
    if number:
        source = control_source(record)
        keys.append(MatchKey("control", f"{source}|{number}" if source else number))
    keys += [MatchKey("system", value.strip()) for value in _subfield_values(record, "035", "a")]
    keys += [MatchKey("isbn", isbn) for isbn in map(normalize_isbn, _subfield_values(record, "020", "a")) if isbn]
    keys += [MatchKey("issn", issn) for issn in map(normalize_issn, _subfield_values(record, "022", "a")) if issn]
    return list(dict.fromkeys(key for key in keys if key.value))


def _subfield_values(record: pymarc.Record, tag: str, code: str) -> list[str]:
    return [value for field in record.get_fields(tag) for value in field.get_subfields(code)]
