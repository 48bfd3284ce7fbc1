"""Fixtures for the OPAC protocols: a small catalogue, a library circulating
copies of it (policy xuzhou, written through the services), running servers."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pymarc
import pytest
import sqlalchemy

import marc.search.tables  # noqa: F401  (registers search_docs on the shared metadata)
from ils_bridge.app import App, Library
from ils_bridge.clock import SettableClock
from ils_bridge.services.catalogue import Catalogue
from ils_bridge.storage.schema import bib_records, libraries, metadata
from marc.holdings import HoldingsMapping
from marc.importer import catalogue_entry
from marc.search import LibraryHoldings, SearchIndex, open_index
from marc.search.background import BackgroundServer
from marc.sru.server import SruServer
from marc.z3950.server import Z3950Server

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
POLICY = Path(__file__).resolve().parents[2] / "policies" / "examples" / "xuzhou.yaml"


def marc_record(
    control: str,
    title: str,
    author: str | None = None,
    subjects: Sequence[str] = (),
    isbn: str | None = None,
    issn: str | None = None,
    year: int = 2001,
    language: str = "eng",
    leader_type: str = "am",
) -> pymarc.Record:
    record = pymarc.Record(force_utf8=True)
    record.leader = pymarc.Leader("00000n" + leader_type + " a2200000 a 4500")
    record.add_field(pymarc.Field(tag="001", data=control))
    record.add_field(pymarc.Field(tag="008", data=f"010101s{year}    xx            000 0 {language} d"))
    if isbn:
        record.add_field(pymarc.Field(tag="020", indicators=[" ", " "], subfields=[pymarc.Subfield("a", isbn)]))
    if issn:
        record.add_field(pymarc.Field(tag="022", indicators=[" ", " "], subfields=[pymarc.Subfield("a", issn)]))
    if author:
        record.add_field(pymarc.Field(tag="100", indicators=["1", " "], subfields=[pymarc.Subfield("a", author)]))
    record.add_field(pymarc.Field(tag="245", indicators=["1", "0"], subfields=[pymarc.Subfield("a", title)]))
    for subject in subjects:
        record.add_field(pymarc.Field(tag="650", indicators=[" ", "0"], subfields=[pymarc.Subfield("a", subject)]))
    return record


CATALOGUE = [
    marc_record("rec1", "A history of the United States", "Morris, Charles", ["United States History"], isbn="978-0-306-40615-7", year=1899),
    marc_record("rec2", "Botanical materia medica", "Aurand, Samuel", ["Botany, Medical"], year=1905),
    marc_record("rec3", "图书馆学概论", "吴慰慈", ["图书馆学"], isbn="7-303-04556-9", year=2008, language="chi"),
    marc_record("rec4", "Tiếng Việt cho người nước ngoài", "Nguyễn Văn Huệ", ["Tiếng Việt"], year=2015, language="vie"),
    marc_record("rec5", "Journal of library history", None, ["Libraries History"], issn="0022-2259", year=1966, leader_type="as"),
    marc_record("rec6", "The history of music", "Smith, John", ["Music History"], year=1950),
]


def load_catalogue(engine: sqlalchemy.Engine) -> dict[str, int]:
    """The records alone, inserted as rows (for the index's own tests); ids by control number."""
    ids = {}
    with engine.begin() as conn:
        conn.execute(libraries.insert().values(id=1, code="main", name="Main", currency="CNY", timezone="UTC"))
        for record in CATALOGUE:
            result = conn.execute(bib_records.insert().values(
                library_id=1, control_number=record["001"].data, title=record.title or "", marc=record.as_marc(),
                created_at=NOW, updated_at=NOW))
            ids[record["001"].data] = result.inserted_primary_key[0]
    return ids


def circulating_catalogue(app: App) -> tuple[Library, dict[str, int]]:
    """The catalogue as a library runs it, written through the services: records
    through the catalogue (indexed by its hook), copies through the facade;
    B002 checked out, B003 a reference copy (in-library use only by the policy),
    B004 trapped on the hold shelf for a reader's hold."""
    lib = app.create_library(POLICY.read_text(encoding="utf-8"), author="test")
    catalogue = Catalogue(app.db.engine, lib.record.id)
    mapping = HoldingsMapping.load("marc21")
    ids = {record["001"].data: catalogue.add(catalogue_entry(record, mapping, "CNY")[0]) for record in CATALOGUE}
    copies = [("rec1", "B001", "zh_book"), ("rec1", "B002", "zh_book"), ("rec1", "B003", "reference"),
              ("rec3", "B004", "zh_book")]
    for control, barcode, material in copies:
        added = lib.add_item(barcode, ids[control], material, branch="main", location="stacks",
                             call_number=f"CALL {barcode}", copy_number="1")
        assert added.ok, added
    for number in ("P1", "P2"):
        assert lib.register_patron(number, f"Reader {number}", "undergraduate").ok
        assert lib.issue_card(number, f"C-{number}", valid_until=dt.date(2030, 1, 1)).ok
    for barcode in ("B002", "B004"):
        assert lib.checkout("P1", barcode).ok
    held = lib.place_hold("P2", title_id=ids["rec3"])
    assert held.ok, held
    assert lib.checkin("B004").ok
    return lib, ids


@pytest.fixture
def catalogue_engine(db_url: str) -> Iterator[sqlalchemy.Engine]:
    """The test catalogue on each engine, indexed."""
    engine = sqlalchemy.create_engine(db_url)
    metadata.create_all(engine)
    load_catalogue(engine)
    open_index(engine).rebuild()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One SQLite library behind running SRU and Z39.50 servers that read copy status
    through ``Library.availability``, shared by a module's tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('opac') / 'opac.db'}"
    app = App.open(url, SettableClock(NOW), create=True)
    lib, ids = circulating_catalogue(app)
    engine = app.db.engine
    index: SearchIndex = open_index(engine, lib.record.id)
    holdings = LibraryHoldings(lib)
    due = lib.item_info("B002")["due"].astimezone(ZoneInfo(lib.record.timezone))
    sru = BackgroundServer(SruServer(engine, holdings=holdings, port=0, database="opac", index=index)).start()
    z3950 = BackgroundServer(Z3950Server(engine, holdings=holdings, port=0, index=index)).start()
    yield {"engine": engine, "ids": ids, "sru": sru, "z3950": z3950, "due": due}
    sru.stop()
    z3950.stop()
    app.close()


def yaz(script: str, timeout: float = 30) -> str:
    """Run yaz-client on a command script; its transcript."""
    if shutil.which("yaz-client") is None:
        pytest.skip("yaz-client is not installed")
    result = subprocess.run(["yaz-client"], input=script, capture_output=True, text=True, timeout=timeout, errors="replace", check=False)
    return result.stdout
