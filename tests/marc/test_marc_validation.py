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
