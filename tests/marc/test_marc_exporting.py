from __future__ import annotations

import io
import json
import shutil
import subprocess

from collections.abc import Iterator

import pymarc
import pytest
import sqlalchemy

from ils_bridge.services.catalogue import Catalogue
from ils_bridge.storage.schema import libraries
from marc.exporting import export_records
from marc.holdings import HoldingsMapping
from marc.importer import import_files
from marc.reading import read_records
from tests.marc.conftest import with_libraries

YAZ = shutil.which("yaz-marcdump")
needs_yaz = pytest.mark.skipif(YAZ is None, reason="yaz-marcdump (Debian package yaz) is not installed")
YAZ_INPUT = {"iso2709": "marc", "marcxml": "marcxml", "json": "json"}


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[sqlalchemy.Engine]:
    """SQLite only: export reads through the catalogue, whose writes the importer tests cover on both engines."""
    engine = with_libraries(sqlite_url)
    yield engine
    engine.dispose()


def bib_fields(record: pymarc.Record, mapping: str) -> list[str]:
    """The bibliographic content: every field but holdings (and 005, which has no meaning here)."""
    skip = set(HoldingsMapping.load(mapping).holdings_tags)
    return [str(record.leader)[5:12] + str(record.leader)[17:]] + [str(f) for f in record.fields if f.tag not in skip]


def exported(catalogue, fmt: str, **options) -> bytes:
    stream = io.BytesIO()
    export_records(catalogue, stream, fmt, **options)
    return stream.getvalue()


def yaz_check(path, fmt: str) -> None:
    result = subprocess.run([YAZ, "-n", "-i", YAZ_INPUT[fmt], str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr


@pytest.mark.parametrize("fmt", ["iso2709", "marcxml", "json"])
@pytest.mark.parametrize(
    ("source", "mapping"),
    [
        ("loc_books.mrc", "marc21"),
        ("unicode_852.mrc", "marc21"),
        ("unicode_952.mrc", "koha952"),
        ("marc8.mrc", "marc21"),
    ],
)
def test_round_trip_is_lossless_for_bibliographic_fields(catalogue, data, tmp_path, fmt, source, mapping):
    import_files(catalogue, [data / source], mapping=mapping)
    out = tmp_path / f"out.{fmt}"
    count = export_records(catalogue, out, fmt, mapping=mapping)
    originals = [r.record for r in read_records(data / source)]
    again = [r.record for r in read_records(out)]
    assert count == len(again) == len(originals)
    assert [bib_fields(r, mapping) for r in again] == [bib_fields(r, mapping) for r in originals]


def test_reimporting_an_export_gives_the_same_catalogue(catalogue, engine, data, tmp_path):
    import_files(catalogue, [data / "unicode_952.mrc", data / "loc_books.mrc"], mapping="koha952")
    out = tmp_path / "out.xml"
    export_records(catalogue, out, "marcxml", mapping="koha952")
    with engine.begin() as conn:
        conn.execute(libraries.insert().values(id=3, code="x2", name="Copy", currency="CNY", timezone="Asia/Shanghai"))
    other = Catalogue(engine, 3)
    report = import_files(other, [out], mapping="koha952")
    assert report.added == 202 and report.failed == 0
    first = [(r.marc, r.items) for r in catalogue.iter_records()]
    second = [(r.marc, r.items) for r in other.iter_records()]
    assert first == second


@needs_yaz
@pytest.mark.parametrize("fmt", ["iso2709", "marcxml"])
def test_yaz_marcdump_accepts_exports(catalogue, data, tmp_path, fmt):
    import_files(catalogue, [data / "loc_books.mrc", data / "unicode_952.mrc"], mapping="koha952")
    out = tmp_path / f"out.{fmt}"
    export_records(catalogue, out, fmt, mapping="koha952")
    yaz_check(out, fmt)


@needs_yaz
def test_yaz_marcdump_accepts_json_records(catalogue, data, tmp_path):
    import_files(catalogue, [data / "unicode_852.mrc"], mapping="marc21")
    records = json.loads(exported(catalogue, "json"))
    for number, record in enumerate(records):  # yaz reads one JSON record per file
        path = tmp_path / f"{number}.json"
        path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        yaz_check(path, "json")


@needs_yaz
def test_yaz_check_catches_a_broken_file(data):
    with pytest.raises(AssertionError):
        yaz_check(data / "bad_directory.mrc", "iso2709")


def test_exports_reread_identically_by_pymarc(catalogue, data):
    import_files(catalogue, [data / "unicode_952.mrc"], mapping="koha952")
    binary = [r.as_marc() for r in pymarc.MARCReader(io.BytesIO(exported(catalogue, "iso2709", mapping="koha952")))]
    from_xml = [
        r.as_marc() for r in pymarc.parse_xml_to_array(io.BytesIO(exported(catalogue, "marcxml", mapping="koha952")))
    ]
    from_json = [r.as_marc() for r in pymarc.JSONReader(exported(catalogue, "json", mapping="koha952").decode())]
    assert binary == from_xml == from_json and len(binary) == 2


def test_holdings_embedded_with_the_mapping(catalogue, data):
    import_files(catalogue, [data / "unicode_952.mrc"], mapping="koha952")
    as_952 = next(pymarc.MARCReader(io.BytesIO(exported(catalogue, "iso2709", mapping="koha952"))))
    assert [(f["p"], f["y"], f.get("g")) for f in as_952.get_fields("952")] == [
        ("C0000001", "BK", "89.00"),
        ("C0000002", "REF", "89.00"),
    ]
    as_852 = next(pymarc.MARCReader(io.BytesIO(exported(catalogue, "iso2709", mapping="marc21"))))
    assert [(f["8"], f["b"]) for f in as_852.get_fields("852")] == [("1", "MAIN"), ("2", "EAST")]
    assert [(f["8"], f["p"]) for f in as_852.get_fields("876")] == [("1", "C0000001"), ("2", "C0000002")]


def test_foreign_currency_price_keeps_its_code(engine, data):
    hanoi = Catalogue(engine, 2)
    import_files(hanoi, [data / "unicode_952.mrc"], mapping="koha952")
    chinese, vietnamese = pymarc.MARCReader(io.BytesIO(exported(hanoi, "iso2709", mapping="koha952")))
    # a bare 952 $g is in the library's currency; the second item's price came from 365 $b $c
    assert [f["g"] for f in chinese.get_fields("952")] == ["89", "89.00CNY"]
    assert vietnamese["952"]["g"] == "120000"


def test_filter_by_changed_since_ids_and_deleted(catalogue, clock, data):
    import_files(catalogue, [data / "loc_books.mrc"])
    since = clock.advance(days=1)
    ids = [r.id for r in catalogue.iter_records()]
    ids_001 = [r.control_number for r in catalogue.iter_records()]
    catalogue.mark_deleted(ids[5])
    import_files(catalogue, [data / "unicode_852.mrc"])
    recent = list(pymarc.MARCReader(io.BytesIO(exported(catalogue, "iso2709", since=since))))
    assert [r["001"].data for r in recent] == ["CN0001", "VN0001"]
    with_deleted = list(
        pymarc.MARCReader(io.BytesIO(exported(catalogue, "iso2709", since=since, include_deleted=True)))
    )
    assert [(r["001"].data.strip(), r.leader[5] == "d") for r in with_deleted] == [
        (ids_001[5], True),
        ("CN0001", False),
        ("VN0001", False),
    ]
    chosen = list(pymarc.MARCReader(io.BytesIO(exported(catalogue, "iso2709", record_ids=ids[:3]))))
    assert len(chosen) == 3


def test_unknown_format_is_refused(catalogue):
    with pytest.raises(ValueError, match="unknown format"):
        export_records(catalogue, io.BytesIO(), "csv")
