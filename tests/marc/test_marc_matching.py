from __future__ import annotations

import pymarc
import pytest

from marc.matching import MatchKey, match_keys, normalize_isbn, normalize_issn


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0-19-852663-6", "9780198526636"),
        ("0198526636 (pbk.)", "9780198526636"),
        ("978-7-111-54493-7", "9787111544937"),
        ("080442957X", "9780804429573"),
        ("0-19-852663-7", None),  # wrong check digit
        ("978-7-111-54493-0", None),
        ("not an isbn", None),
    ],
)
def test_isbn_normalised_to_isbn13_with_check_digit(text, expected):
    assert normalize_isbn(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("0378-5955", "0378-5955"), ("03785955", "0378-5955"), ("0378-5954", None)]
)
def test_issn(text, expected):
    assert normalize_issn(text) == expected


def test_match_keys_in_strength_order():
    record = pymarc.Record()
    record.add_field(
        pymarc.Field("001", data=" 00000002 "),
        pymarc.Field("003", data="DLC"),
        pymarc.Field(
            "020", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", "0-19-852663-6"), pymarc.Subfield("c", "$5")]
        ),
        pymarc.Field("020", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", "9780198526636")]),  # same ISBN
        pymarc.Field("022", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", "0378-5955")]),
        pymarc.Field("035", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", "(OCoLC)5853149")]),
    )
    assert match_keys(record) == [
        MatchKey("control", "DLC|00000002"),
        MatchKey("system", "(OCoLC)5853149"),
        MatchKey("isbn", "9780198526636"),
        MatchKey("issn", "0378-5955"),
    ]


def test_record_without_identifiers_has_no_keys():
    record = pymarc.Record()
    record.add_field(pymarc.Field("245", pymarc.Indicators("0", "0"), [pymarc.Subfield("a", "Untitled")]))
    assert match_keys(record) == []
