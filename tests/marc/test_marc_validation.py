from __future__ import annotations

import pymarc
import pytest

from marc.reading import read_records
from marc.validation import Linter, structural_problem


def first(data, name):
    return next(read_records(data / name)).record


def test_clean_record_has_no_structural_problem(data):
    assert structural_problem(first(data, "unicode_852.mrc")) is None


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        (lambda r: r.remove_fields("245"), "missing_245"),
        (lambda r: setattr(r["245"], "indicators", pymarc.Indicators("1", "!")), "invalid_indicator"),
        (lambda r: r["245"].subfields.__setitem__(0, pymarc.Subfield("$", "x")), "bad_subfield_code"),
        (lambda r: r["245"].subfields.__setitem__(0, pymarc.Subfield("a", "bad \ufffd")), "bad_encoding"),
    ],
)
def test_structural_problems(data, damage, code):
    record = first(data, "unicode_852.mrc")
    damage(record)
    assert structural_problem(record).code == code


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        (lambda r: setattr(r["245"], "indicators", pymarc.Indicators("1", "!")), "invalid_indicator"),
        (lambda r: setattr(r["245"], "indicators", pymarc.Indicators("1", "")), "invalid_indicator"),
        (lambda r: r["245"].subfields.append(pymarc.Subfield("A", "x")), "bad_subfield_code"),
        (lambda r: setattr(r["245"], "tag", "24!"), "bad_tag"),
    ],
)
def test_structural_problems_when_the_text_was_checked_already(data, damage, code):
    record = first(data, "unicode_852.mrc")
    damage(record)
    assert structural_problem(record, text_checked=True).code == code


def test_a_replacement_character_in_valid_utf8_bytes_is_still_bad_encoding(data, tmp_path):
    record = first(data, "unicode_852.mrc")
    record["245"].subfields[0] = pymarc.Subfield("a", "bad \ufffd")
    damaged = tmp_path / "fffd.mrc"
    damaged.write_bytes(record.as_marc())
    result = next(read_records(damaged))
    assert result.failure is not None and result.failure.reason == "bad_encoding"


def test_lint_reports_content_problems(data):
    pytest.importorskip("marc_lint")
    record = first(data, "loc_books.mrc")
    linter = Linter()
    before = linter.check(record)
    assert not any(w.startswith(("008", "245:", "245[")) and "once" in w for w in before)
    record["008"].data = record["008"].data[:30]
    record.add_ordered_field(pymarc.Field("245", pymarc.Indicators("1", "0"), [pymarc.Subfield("a", "Second title.")]))
    new = [w for w in linter.check(record) if w not in before]
    assert any(w.startswith("008") for w in new), new
    assert any(w.startswith("245") for w in new), new
