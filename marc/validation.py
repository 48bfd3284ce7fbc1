"""Checks on MARC records: structural problems (always) and content lint (on request).

A structural problem makes a record unusable, so the reader reports it as a
failure.  Lint warnings (MARC21 content rules, from the ``marc-lint``
package, a port of Perl's MARC::Lint) are advice: the importer reports them
per record and imports the record anyway.
"""

from __future__ import annotations

import operator
import re
import string
from dataclasses import dataclass

import pymarc

_TAG = re.compile(r"^[0-9A-Za-z]{3}$")
_SUBFIELD_CODES = frozenset(string.digits + string.ascii_lowercase)
_INDICATORS = _SUBFIELD_CODES | {" "}  # MARC21: blank, digit or lower-case letter
_INDICATOR_PAIRS = frozenset((first, second) for first in _INDICATORS for second in _INDICATORS)
_NUMERIC_TAGS = frozenset(f"{n:03d}" for n in range(1000))  # most tags: a set lookup instead of the pattern
_code = operator.attrgetter("code")
REPLACEMENT_CHARACTER = "\ufffd"


@dataclass(frozen=True)
class Problem:
    code: str  # bad_tag | invalid_indicator | bad_subfield_code | bad_encoding | missing_245
    message: str


def structural_problem(record: pymarc.Record, text_checked: bool = False) -> Problem | None:
    """The first structural problem of a decoded record, or None.

    ``text_checked``: the caller has made sure no value holds U+FFFD (the
    record's bytes are valid UTF-8 without one), so the per-value encoding
    check is skipped."""
    if not (text_checked and _plainly_sound(record.fields)):
        for field in record.fields:
            problem = _field_problem(field, text_checked)
            if problem:
                return problem
    if not record.get_fields("245"):
        return Problem("missing_245", "no 245 (title statement) field")
    return None


def _plainly_sound(fields: list[pymarc.Field]) -> bool:
    """True when every tag is numeric and every indicator and subfield code valid:
    the common case, checked for the whole record in a few set operations.
    False sends the record to the field-by-field checks, which name the problem."""
    data_fields = [field for field in fields if not field.control_field]
    try:
        return (
            _NUMERIC_TAGS.issuperset([field.tag for field in fields])
            and _INDICATOR_PAIRS.issuperset([field.indicators for field in data_fields])
            and _SUBFIELD_CODES.issuperset([code for field in data_fields for code, _ in field.subfields])
        )
    except (TypeError, ValueError):  # indicators or subfields of an unexpected shape
        return False


def _field_problem(field: pymarc.Field, text_checked: bool) -> Problem | None:
    if field.tag not in _NUMERIC_TAGS and not _TAG.match(field.tag):
        return Problem("bad_tag", f"invalid tag {field.tag!r}")
    if field.is_control_field():
        return None if text_checked else _encoding_problem(field.tag, field.data)
    indicators = field.indicators or ("", "")
    if len(indicators) == 2 and indicators[0] in _INDICATORS and indicators[1] in _INDICATORS:
        if text_checked and _SUBFIELD_CODES.issuperset(map(_code, field.subfields)):
            return None  # the common case, without a Python step per subfield
    else:
        for position, indicator in enumerate(indicators, start=1):
            if indicator not in _INDICATORS:
                return Problem("invalid_indicator", f"field {field.tag} indicator {position} is {indicator!r}")
    for subfield in field.subfields:
        if subfield.code not in _SUBFIELD_CODES:
            return Problem("bad_subfield_code", f"field {field.tag} has subfield code {subfield.code!r}")
        problem = _encoding_problem(field.tag, subfield.value)
        if problem:
            return problem
    return None


def _encoding_problem(tag: str, value: str) -> Problem | None:
    if REPLACEMENT_CHARACTER in value:
        return Problem("bad_encoding", f"field {tag} holds bytes that are not valid UTF-8")
    return None


class Linter:
    """MARC21 content checks through marc-lint; one instance serves many records."""

    def __init__(self) -> None:
        try:
            from marc_lint import MarcLint
        except ImportError as exc:  # an optional dependency, asked for explicitly
            raise RuntimeError("content checks need the marc-lint package: pip install marc-lint") from exc
        self._lint = MarcLint()

    def check(self, record: pymarc.Record) -> list[str]:
        """Warnings for one record, as 'TAG: message' strings; empty when clean."""
        return [_describe(warning) for warning in self._lint.check_record(record, record_id="-")]


def _describe(warning: object) -> str:
    text = str(warning)
    return text.removeprefix("Record -: ")
