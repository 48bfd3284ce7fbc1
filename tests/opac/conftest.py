"""Fixtures for the OPAC protocols: a small catalogue with copies and loans,
a holdings source over the items/loans tables (test-only), running servers."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from typing import ClassVar

import pymarc
import pytest
import sqlalchemy
from sqlalchemy import select

import marc.search.tables  # noqa: F401  (registers search_docs on the shared metadata)
from ils_bridge.storage.schema import (
    bib_records,
    items,
    libraries,
    loans,
    metadata,
    patrons,
)
from marc.search import CopyState, CopyStatus, SearchIndex, open_index
from marc.search.background import BackgroundServer
from marc.sru.server import SruServer
from marc.z3950.server import Z3950Server

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 3, 30, 15, 59, tzinfo=dt.UTC)


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


class TableHoldings:
    """Copy status read straight from items/loans: the test stand-in for the circulation service."""

    STATES: ClassVar[dict[str, CopyState]] = {"available": CopyState.ON_SHELF, "checked_out": CopyState.CHECKED_OUT, "on_hold_shelf": CopyState.ON_HOLD_SHELF}

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self.engine = engine

    def copies(self, record_ids: Sequence[int]) -> dict[int, list[CopyStatus]]:
        query = (
            select(items, loans.c.due_at)
            .outerjoin(loans, (loans.c.item_id == items.c.id) & (loans.c.status == "active"))
            .where(items.c.bib_id.in_(list(record_ids)))
            .order_by(items.c.id)
        )
        out: dict[int, list[CopyStatus]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                state = self.STATES.get(row.status, CopyState.UNAVAILABLE)
                if state is CopyState.ON_SHELF and row.closed_stack:
                    state = CopyState.IN_LIBRARY_ONLY
                out.setdefault(row.bib_id, []).append(
                    CopyStatus(row.barcode, state, row.due_at, row.branch, row.location, row.call_number, row.copy_number)
                )
        return out


def _item(bib_id: int, barcode: str, status: str, closed_stack: bool = False) -> dict:
    return {"library_id": 1, "bib_id": bib_id, "barcode": barcode, "material": "book", "status": status,
            "branch": "main", "location": "stacks", "call_number": f"CALL {barcode}", "copy_number": "1",
            "closed_stack": closed_stack, "created_at": NOW, "updated_at": NOW}


def load_catalogue(engine: sqlalchemy.Engine) -> dict[str, int]:
    """Insert the library, the records, copies and one loan; returns record ids by control number."""
    ids = {}
    with engine.begin() as conn:
        conn.execute(libraries.insert().values(id=1, code="main", name="Main", currency="CNY", timezone="UTC"))
        for record in CATALOGUE:
            control = record["001"].data
            result = conn.execute(bib_records.insert().values(
                library_id=1, control_number=control, title=record.title or "", marc=record.as_marc(),
                created_at=NOW, updated_at=NOW))
            ids[control] = result.inserted_primary_key[0]
        conn.execute(items.insert(), [
            _item(ids["rec1"], "B001", "available"),
            _item(ids["rec1"], "B002", "checked_out"),
            _item(ids["rec1"], "B003", "available", closed_stack=True),
            _item(ids["rec3"], "B004", "on_hold_shelf"),
        ])
        conn.execute(patrons.insert().values(id=1, library_id=1, number="P1", name="Reader", patron_type="adult",
                                             status="active", created_at=NOW, updated_at=NOW))
        item_id = conn.execute(select(items.c.id).where(items.c.barcode == "B002")).scalar_one()
        conn.execute(loans.insert().values(library_id=1, item_id=item_id, patron_id=1, checked_out_at=NOW, due_at=DUE,
                                           status="active", policy_version=1, rule_id="loan:test", terms={}))
    return ids


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
    """One SQLite catalogue behind running SRU and Z39.50 servers, shared by a module's tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('opac') / 'opac.db'}"
    engine = sqlalchemy.create_engine(url)
    metadata.create_all(engine)
    ids = load_catalogue(engine)
    index: SearchIndex = open_index(engine)
    index.rebuild()
    holdings = TableHoldings(engine)
    sru = BackgroundServer(SruServer(engine, holdings=holdings, port=0, database="opac", index=index)).start()
    z3950 = BackgroundServer(Z3950Server(engine, holdings=holdings, port=0, index=index)).start()
    yield {"engine": engine, "ids": ids, "sru": sru, "z3950": z3950}
    sru.stop()
    z3950.stop()
    engine.dispose()


def yaz(script: str, timeout: float = 30) -> str:
    """Run yaz-client on a command script; its transcript."""
    if shutil.which("yaz-client") is None:
        pytest.skip("yaz-client is not installed")
    result = subprocess.run(["yaz-client"], input=script, capture_output=True, text=True, timeout=timeout, errors="replace", check=False)
    return result.stdout
