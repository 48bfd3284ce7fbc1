"""`ils-bridge marc import | export | validate`, on SQLite and PostgreSQL, in libraries made from the example policies."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pymarc
import pytest
from click.testing import CliRunner

from ils_bridge.app import App
from ils_bridge.cli import marc as marc_cli
from ils_bridge.cli.main import cli as ils_bridge
from ils_bridge.services.catalogue import Catalogue
from ils_bridge.storage.database import Database
from tests.cli.conftest import Cli, start_subprocess
from tests.conftest import ENGINES, example_policy, fresh_pg_database

DATA = Path(__file__).parent.parent / "data" / "marc"
BROKEN = {  # file -> (number of the broken record, the reason the reader gives)
    "bad_leader.mrc": (2, "bad_leader"),
    "bad_directory.mrc": (2, "bad_directory"),
    "bad_length.mrc": (2, "bad_length"),
    "invalid_utf8.mrc": (2, "bad_encoding"),
    "missing_245.mrc": (2, "missing_245"),
    "truncated.mrc": (3, "truncated"),
}
YAZ = shutil.which("yaz-marcdump")


@pytest.fixture(autouse=True)
def state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where checkpoints of server databases go (platformdirs follows XDG_STATE_HOME): not the real home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the newest migration, made once and copied by each test."""
    path = tmp_path_factory.mktemp("marc-template") / "library.db"
    Database(f"sqlite:///{path}").create_schema()
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    path = directory / "library.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """An empty database on each engine, copied from a template (creating the tables costs a second each time)."""
    if request.param == "sqlite":
        return sqlite_copy(sqlite_template, tmp_path)
    cluster = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL is not available here")
    return fresh_pg_database(cluster)


@pytest.fixture
def cli(db_url: str):
    runner = Cli(db_url)
    yield runner
    runner.close()


@pytest.fixture
def sqlite_cli(tmp_path: Path, sqlite_template: Path):
    """For what does not depend on the engine."""
    runner = Cli(sqlite_copy(sqlite_template, tmp_path))
    yield runner
    runner.close()


def add_library(cli: Cli, code: str, as_code: str | None = None) -> Catalogue:
    text = example_policy(code)
    if as_code:
        text = text.replace(f"code: {code}", f"code: {as_code}", 1)
    library = cli.app.create_library(text, author="test")
    return Catalogue(cli.app.db.engine, library.record.id)


@pytest.fixture
def xuzhou(cli: Cli) -> Catalogue:
    return add_library(cli, "xuzhou")


def stored(catalogue: Catalogue) -> dict[str, dict[str, str]]:
    """Control number -> {barcode: material} of every stored record."""
    return {r.control_number: {i.barcode: i.material for i in r.items} for r in catalogue.iter_records()}


def record_offsets(path: Path) -> list[int]:
    """Byte offset of each record of an ISO 2709 file, found by its terminators."""
    data = path.read_bytes()
    return [0] + [i + 1 for i, byte in enumerate(data[:-1]) if byte == 0x1D]


# --- import ---------------------------------------------------------------------------


def test_import_gives_items_the_policy_materials(cli, xuzhou):
    report = cli.json("marc", "import", str(DATA / "unicode_952.mrc"), str(DATA / "loc_books.mrc"),
                      "--mapping", "xuzhou-demo")
    assert (report["added"], report["failed"], report["items_added"]) == (202, 0, 3)
    records = stored(xuzhou)
    assert len(records) == 202
    assert records["CN0001"] == {"C0000001": "zh_book", "C0000002": "reference"}
    assert records["VN0001"] == {"V0000001": "zh_book"}
    assert json.loads(cli("--json", "items", "show", "C0000002").stdout)["material"] == "reference"


def test_import_with_a_reading_process_checks_materials_there_too(sqlite_cli):
    xuzhou = add_library(sqlite_cli, "xuzhou")
    report = sqlite_cli.json("marc", "import", str(DATA / "unicode_952.mrc"), str(DATA / "unicode_852.mrc"),
                             "--mapping", "xuzhou-demo", "--workers", "1")
    assert (report["added"], report["failed"], report["items_added"]) == (2, 0, 3)
    assert stored(xuzhou)["CN0001"] == {"C0000001": "zh_book", "C0000002": "reference"}
    sqlite_cli.fails("marc", "import", str(DATA / "unicode_952.mrc"), "--workers", "2", code=2, says="--workers")


def test_852_holdings_take_leader_materials_in_hcmc(sqlite_cli):
    cli = sqlite_cli
    hcmc = add_library(cli, "hcmc")
    result = cli("marc", "import", str(DATA / "unicode_852.mrc"), "--mapping", "hcmc-demo")
    assert "added" in result.stdout and "Failed records" not in result.stdout
    assert stored(hcmc) == {"CN0001": {"C0000001": "book", "C0000002": "book"}, "VN0001": {"V0000001": "book"}}


def test_materials_outside_the_vocabulary_fail_and_the_rest_lands(cli, xuzhou):
    # marc21's leader materials say "book", which Xuzhou's policy does not know
    report = cli.json("marc", "import", str(DATA / "unicode_852.mrc"), str(DATA / "loc_books.mrc"), code=5)
    assert (report["added"], report["failed"], report["items_added"]) == (200, 2, 0)
    assert [(f["number"], f["control_number"], f["reason"]) for f in report["failures"]] == [
        (1, "CN0001", "unknown_material"), (2, "VN0001", "unknown_material")]
    assert "'book'" in report["failures"][0]["detail"] and "item_types" in report["failures"][0]["detail"]
    assert not {"CN0001", "VN0001"} & set(stored(xuzhou))
    human = cli("marc", "import", str(DATA / "unicode_852.mrc"), "--dry-run", code=5).stdout
    assert "unknown_material" in human and "the policy's materials are: zh_book" in human


def _bulk_from_one_record():
    """Imports that add one record or more count as bulk loads (the real threshold is thousands)."""
    import_files = marc_cli.importer.import_files
    return mock.patch.object(marc_cli.importer, "import_files",
                             wraps=lambda *a, **kw: import_files(*a, merge_index_after=1, **kw))


def test_a_bulk_import_reports_how_long_merging_the_search_index_took(cli, xuzhou):
    small = cli.json("marc", "import", str(DATA / "unicode_952.mrc"), "--mapping", "xuzhou-demo")
    assert small["index_merge_seconds"] is None  # two records: far below a bulk load
    with _bulk_from_one_record():
        bulk = cli.json("marc", "import", str(DATA / "loc_books.mrc"), "--mapping", "xuzhou-demo")
    assert bulk["added"] == 200 and bulk["index_merge_seconds"] >= 0


def test_a_bulk_import_says_it_merged_the_search_index(sqlite_cli):
    add_library(sqlite_cli, "xuzhou")
    with _bulk_from_one_record():
        result = sqlite_cli("marc", "import", str(DATA / "loc_books.mrc"), "--mapping", "xuzhou-demo")
    assert "search index merged after the bulk load" in result.stdout + result.stderr


def test_dry_run_writes_nothing(cli, xuzhou, tmp_path):
    report = cli.json("marc", "import", str(DATA / "unicode_952.mrc"), "--mapping", "xuzhou-demo", "--dry-run",
                      "--lint")
    assert (report["dry_run"], report["added"], report["items_added"]) == (True, 2, 3)
    assert [(w["number"], w["control_number"]) for w in report["lint"]] == [(1, "CN0001"), (2, "VN0001")]
    assert any("020" in warning for warning in report["lint"][1]["warnings"])  # its ISBN's check digit is wrong
    assert stored(xuzhou) == {}
    assert not list(tmp_path.glob("*checkpoint*"))


def test_broken_files_report_positions_and_reasons_and_good_records_land(cli, xuzhou, tmp_path):
    files = [str(DATA / name) for name in BROKEN]
    csv_report, json_report = tmp_path / "report.csv", tmp_path / "report.json"
    report = cli.json("marc", "import", *files, "--mapping", "xuzhou-demo", "--report", str(csv_report), code=5)
    expected = [(name, number, record_offsets(DATA / name)[number - 1], reason)
                for name, (number, reason) in BROKEN.items()]
    assert [(Path(f["path"]).name, f["number"], f["offset"], f["reason"]) for f in report["failures"]] == expected
    assert report["failed"] == len(BROKEN) and report["added"] == 2
    assert set(stored(xuzhou)) == {"CN0001", "VN0001"}  # each once: later files skip them
    with csv_report.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert {r["reason"]: r["detail"] for r in rows if r["kind"] == "total"}["failed"] == str(len(BROKEN))
    assert [(r["record"], r["offset"], r["reason"]) for r in rows if r["kind"] == "failure"] == [
        (str(number), str(offset), reason) for _, number, offset, reason in expected]
    human = cli("marc", "import", *files, "--report", str(json_report), code=5).stdout
    assert "bad_directory" in human and "6 record(s) failed" in human
    assert json.loads(json_report.read_text(encoding="utf-8"))["failed"] == len(BROKEN)


def test_resume_after_an_interrupted_run_does_not_duplicate(cli, xuzhou, db_url, tmp_path):
    on_sqlite = db_url.startswith("sqlite")
    checkpoint_option = [] if on_sqlite else ["--checkpoint", str(tmp_path / "import.checkpoint.json")]
    command = ["marc", "import", str(DATA / "loc_books.mrc"), "--mode", "add", "--batch-size", "50",
               *checkpoint_option]
    update = marc_cli.ImportProgressBar.__call__
    calls = []

    def interrupt_after_two_batches(bar, progress):
        update(bar, progress)
        calls.append(progress)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with mock.patch.object(marc_cli.ImportProgressBar, "__call__", interrupt_after_two_batches):
        cli(*command, code=marc_cli.EXIT_INTERRUPTED)
    assert len(stored(xuzhou)) == 100
    checkpoint = Path(checkpoint_option[1]) if checkpoint_option else \
        Path(db_url.removeprefix("sqlite:///") + ".marc-import-xuzhou.checkpoint.json")
    assert checkpoint.exists()
    resumed = cli(*command)
    assert "resuming after record 100" in resumed.stdout
    records = list(xuzhou.iter_records())
    assert len(records) == 200 and len({r.control_number for r in records}) == 200  # add mode: a re-read duplicates
    assert not checkpoint.exists()


def test_no_resume_starts_from_the_top(sqlite_cli):
    cli = sqlite_cli
    add_library(cli, "xuzhou")
    checkpoint = Path(cli.database.removeprefix("sqlite:///") + ".marc-import-xuzhou.checkpoint.json")
    command = ["marc", "import", str(DATA / "loc_books.mrc"), "--batch-size", "50"]
    with mock.patch.object(marc_cli.ImportProgressBar, "__call__", side_effect=KeyboardInterrupt):
        cli(*command, code=marc_cli.EXIT_INTERRUPTED)
    assert checkpoint.exists()
    report = cli.json(*command, "--no-resume")
    assert (report["skipped"], report["added"]) == (50, 150)
    assert not checkpoint.exists()


def test_bad_input_exits_2_and_writes_nothing(sqlite_cli, tmp_path):
    cli, xuzhou = sqlite_cli, add_library(sqlite_cli, "xuzhou")
    not_marc = tmp_path / "notes.txt"
    not_marc.write_text("these are not records\n", encoding="utf-8")
    loc = str(DATA / "loc_books.mrc")
    cli.fails("marc", "import", str(tmp_path / "missing.mrc"), code=2, says="no such file")
    cli.fails("marc", "import", loc, "--mapping", "no-such-mapping", code=2, says="--mapping no-such-mapping")
    cli.fails("marc", "import", loc, str(not_marc), code=2, says="not MARC21, MARCXML or MARC-in-JSON")
    cli.fails("marc", "import", loc, "--report", str(tmp_path / "r.txt"), code=2, says=".json or .csv")
    assert stored(xuzhou) == {}


# --- export ---------------------------------------------------------------------------


def bibliographic(catalogue: Catalogue) -> list[tuple[list[str], list[tuple]]]:
    """Each record's fields and items, as comparable values."""
    return [([str(f) for f in pymarc.Record(data=r.marc, force_utf8=True).fields],
             [(i.barcode, i.material, i.price, i.currency, i.branch, i.location, i.call_number, i.copy_number)
              for i in r.items])
            for r in catalogue.iter_records()]


@pytest.mark.skipif(YAZ is None, reason="yaz-marcdump (Debian package yaz) is not installed")
def test_export_passes_yaz_and_reimports_identically(cli, xuzhou, tmp_path):
    cli("marc", "import", str(DATA / "unicode_952.mrc"), str(DATA / "loc_books.mrc"), "--mapping", "xuzhou-demo")
    for name, yaz_format in (("out.mrc", "marc"), ("out.xml", "marcxml")):
        summary = cli.json("marc", "export", str(tmp_path / name), "--mapping", "xuzhou-demo")
        assert summary["exported"] == 202
        dumped = subprocess.run([YAZ, "-i", yaz_format, str(tmp_path / name)], capture_output=True, text=True, check=False)
        assert dumped.returncode == 0 and dumped.stderr == "", dumped.stderr
        assert dumped.stdout.count("\n001 ") == 202
    as_json = json.loads(cli("marc", "export", "-", "--format", "json", "--mapping", "xuzhou-demo").stdout)
    assert len(as_json) == 202
    copy = add_library(cli, "xuzhou", as_code="xuzhou2")
    report = cli.json("--library", "xuzhou2", "marc", "import", str(tmp_path / "out.xml"), "--mapping", "xuzhou-demo")
    assert (report["added"], report["failed"]) == (202, 0)
    assert bibliographic(copy) == bibliographic(xuzhou)


def test_export_picks_records(sqlite_cli, tmp_path):
    cli, xuzhou = sqlite_cli, add_library(sqlite_cli, "xuzhou")
    cli("marc", "import", str(DATA / "unicode_952.mrc"), "--mapping", "xuzhou-demo")
    first = next(xuzhou.iter_records())
    picked = cli("marc", "export", "-", "--format", "json", "--id", str(first.id), "--mapping", "koha952").stdout
    (record,) = json.loads(picked)
    assert {"001": first.control_number} in record["fields"]
    assert sum("952" in field for field in record["fields"]) == len(first.items)
    assert cli.json("marc", "export", str(tmp_path / "none.mrc"), "--since", "2999-01-01")["exported"] == 0
    cli.fails("marc", "export", str(tmp_path / "x.mrc"), "--id", "99999", code=3, says="no record 99999")
    assert not (tmp_path / "x.mrc").exists()


# --- validate -------------------------------------------------------------------------


def test_validate_reports_errors_and_lint_and_touches_no_database(tmp_path):
    database = tmp_path / "never.db"
    result = CliRunner().invoke(ils_bridge, ["--database", f"sqlite:///{database}", "--json", "marc", "validate",
                                             str(DATA / "bad_directory.mrc"), str(DATA / "loc_books.xml"), "--lint"])
    assert result.exit_code == marc_cli.EXIT_SOME_FAILED, result.output
    report = json.loads(result.stdout)
    assert (report["records"], report["valid"], report["invalid"]) == (23, 22, 1)
    assert [(f["number"], f["reason"]) for f in report["failures"]] == [(2, "bad_directory")]
    assert report["warnings"] == sum(len(w["warnings"]) for w in report["lint"]) > 0
    linted = {(Path(w["path"]).name, w["number"]) for w in report["lint"]}
    assert ("bad_directory.mrc", 2) not in linted  # a broken record is not linted
    assert {name for name, _ in linted} >= {"loc_books.xml"}
    assert not database.exists()
    clean = CliRunner().invoke(ils_bridge, ["--database", f"sqlite:///{database}", "marc", "validate",
                                            str(DATA / "unicode_952.mrc")])
    assert clean.exit_code == 0 and "2 records: 2 valid, 0 invalid" in clean.stdout


# --- a real process -------------------------------------------------------------------


def test_marc_group_in_a_real_process(tmp_path, sqlite_template):
    database = sqlite_copy(sqlite_template, tmp_path)
    app = App.open(database)
    try:
        app.create_library(example_policy("xuzhou"), author="test")
    finally:
        app.close()
    process = start_subprocess(database, "marc", "import", str(DATA / "unicode_952.mrc"), str(DATA / "bad_length.mrc"),
                               "--mapping", "xuzhou-demo")
    stdout, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    assert process.returncode == marc_cli.EXIT_SOME_FAILED, stderr
    assert "bad_length" in stdout and "1 record(s) failed" in stdout
    app = App.open(database)
    try:
        catalogue = Catalogue(app.db.engine, app.library("xuzhou").record.id)
        assert stored(catalogue) == {"CN0001": {"C0000001": "zh_book", "C0000002": "reference"},
                                     "VN0001": {"V0000001": "zh_book"}}
    finally:
        app.close()
