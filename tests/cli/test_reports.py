"""`ils-bridge reports`: overdue, fines outstanding, hold shelf, circulation counts; --json, --csv, --chart."""

from __future__ import annotations

import csv

import pytest

from tests.cli.conftest import patron_with_card, title_with_item


@pytest.fixture
def busy(xuzhou):
    """Two months of Xuzhou circulation, with a hold trapped on 15 April."""
    patron_with_card(xuzhou, "P1", "phd")
    patron_with_card(xuzhou, "M1", "master")
    patron_with_card(xuzhou, "M2", "master")
    title_with_item(xuzhou, "X1")
    x2_title = title_with_item(xuzhou, "X2")
    title_with_item(xuzhou, "S1", classification="D61")
    xuzhou("desk", "checkout", "P1", "X1", "--at", "2026-03-02T10:00")
    xuzhou("desk", "checkout", "M1", "S1", "--at", "2026-03-05T10:00")  # social science: due 4 April
    xuzhou("desk", "checkout", "P1", "X2", "--at", "2026-04-10T10:00")
    xuzhou("desk", "hold", "M2", "--title-id", str(x2_title))
    xuzhou("desk", "checkin", "X2", "--at", "2026-04-15T10:00")
    xuzhou("desk", "checkin", "X1", "--at", "2026-04-20T10:00")
    return xuzhou


def test_overdue_lists_loans_past_due(busy):
    rows = busy.json("reports", "overdue", "--at", "2026-05-01T12:00")
    assert [(r["patron"], r["item"], r["days_overdue"], r["patron_type"]) for r in rows] == [("M1", "S1", 27, "master")]
    assert busy.json("reports", "overdue", "--at", "2026-04-01T12:00") == []
    busy.fails("reports", "overdue", "--at", "yesterday", code=2, says="is not a time")


def test_fines_outstanding_with_a_minimum(busy, tmp_path):
    busy("desk", "checkin", "S1", "--at", "2026-05-01T10:00")
    rows = busy.json("reports", "fines")
    assert [(r["patron"], r["owed"], r["currency"]) for r in rows] == [("M1", "2.70", "CNY")]
    assert busy.json("reports", "fines", "--min", "3.00") == []
    path = tmp_path / "fines.csv"
    busy("reports", "fines", "--csv", str(path))
    with path.open(encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [(r["patron"], r["owed"]) for r in written] == [("M1", "2.70")]
    busy.fails("reports", "fines", "--min", "lots", code=2, says="--min: 'lots' is not an amount")


def test_hold_shelf_to_clear(busy):
    pickup_by = busy.json("patrons", "show", "M2")["holds"][0]["shelf_expires_on"]
    assert busy.json("reports", "hold-shelf", "--date", pickup_by) == []  # still the last pickup day
    late = busy.json("reports", "hold-shelf", "--date", "2026-04-30")
    assert [(r["item"], r["patron"], r["last_pickup_day"], r["state"]) for r in late] == [
        ("X2", "M2", pickup_by, "pickup time over")]
    busy("jobs", "run", "--at", "2026-04-30T01:00")
    expired = busy.json("reports", "hold-shelf", "--date", "2026-04-30")
    assert [(r["item"], r["state"]) for r in expired] == [("X2", "expired today")]
    assert busy.json("reports", "hold-shelf", "--date", "2026-05-01") == []


def test_circulation_counts_by_period_type_and_material(busy, tmp_path):
    rows = busy.json("reports", "circulation", "--from", "2026-03-01", "--to", "2026-04-30")
    counts = {(r["period"], r["op"], r["patron_type"], r["material"]): r["count"] for r in rows}
    assert counts == {("2026-03", "checkout", "phd", "zh_book"): 1, ("2026-03", "checkout", "master", "zh_book"): 1,
                      ("2026-04", "checkout", "phd", "zh_book"): 1, ("2026-04", "checkin", "phd", "zh_book"): 2}
    weekly = busy.json("reports", "circulation", "--from", "2026-03-01", "--to", "2026-03-31", "--period", "week",
                       "--op", "checkout")
    assert [(r["period"], r["patron_type"]) for r in weekly] == [("2026-W10", "master"), ("2026-W10", "phd")]
    path = tmp_path / "circulation.csv"
    busy("reports", "circulation", "--from", "2026-03-01", "--to", "2026-04-30", "--csv", str(path))
    assert path.read_text(encoding="utf-8").splitlines()[0] == "period,op,patron_type,material,count"
    busy.fails("reports", "circulation", "--from", "2026-05-01", "--to", "2026-03-01", code=2, says="before it starts")


def test_circulation_chart_is_a_png(busy, tmp_path):
    pytest.importorskip("matplotlib")
    chart = tmp_path / "circulation.png"
    out = busy("reports", "circulation", "--from", "2026-03-01", "--to", "2026-04-30", "--chart", str(chart)).stdout
    assert f"chart written to {chart}" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
    busy.fails("reports", "circulation", "--from", "2026-03-01", "--to", "2026-04-30", "--chart", str(tmp_path / "c.jpg"),
               code=2, says="writes a PNG")


def test_a_csv_that_cannot_be_written_is_one_line(busy, tmp_path):
    busy.fails("reports", "overdue", "--csv", str(tmp_path / "no" / "such" / "dir.csv"), code=2, says="cannot write")
