"""Imports with a reading process (``workers=1``) against imports in one process."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from ils_bridge.services.catalogue import Catalogue
from ils_bridge.storage.schema import bib_records
from marc import importer
from marc.importer import ImportStopped, import_files, reading_workers
from marc.search import Clause, Index, open_index
from marc.search.tables import search_docs


def broken_file(data: Path, tmp_path: Path) -> Path:
    """loc_books.mrc, then records with a wrong length, a bad directory and invalid UTF-8, then a truncated one."""
    path = tmp_path / "mixed.mrc"
    parts = ["loc_books.mrc", "bad_length.mrc", "bad_directory.mrc", "invalid_utf8.mrc", "unicode_952.mrc", "truncated.mrc"]
    path.write_bytes(b"".join((data / name).read_bytes() for name in parts))
    return path


def stored(engine, library_id: int) -> tuple[list, list]:
    """A library's records and search rows, in the order they were written."""
    with engine.connect() as conn:
        records = conn.execute(
            select(bib_records.c.control_number, bib_records.c.title, bib_records.c.marc)
            .where(bib_records.c.library_id == library_id)
            .order_by(bib_records.c.id)
        ).all()
        docs = conn.execute(
            select(search_docs.c.year, search_docs.c.sort_title)
            .where(search_docs.c.library_id == library_id)
            .order_by(search_docs.c.record_id)
        ).all()
    return [tuple(row) for row in records], [tuple(row) for row in docs]


def outcome(report: importer.ImportReport) -> tuple:
    counts = (report.added, report.updated, report.skipped, report.failed, report.items_added)
    return counts, report.failures, report.lint


def test_a_reading_process_imports_what_one_process_does(engine, data, tmp_path):
    path = broken_file(data, tmp_path)
    alone, piped = Catalogue(engine, 1), Catalogue(engine, 2)
    one = import_files(alone, [path], mapping="koha952", batch_size=30, lint=True, workers=0)
    two = import_files(piped, [path], mapping="koha952", batch_size=30, lint=True, workers=1)
    assert outcome(one) == outcome(two)
    assert {f.reason for f in two.failures} >= {"bad_length", "bad_directory", "bad_encoding", "truncated"}
    records, docs = stored(engine, 1)
    assert (records, docs) == stored(engine, 2) and len(records) == len(docs) == one.added
    query = Clause(Index.TITLE, "botanical")
    assert len(open_index(engine, 1).search(query)) == len(open_index(engine, 2).search(query)) > 0
    assert not multiprocessing.active_children()  # the reader is gone


def test_an_interrupted_run_with_a_reading_process_resumes(catalogue, data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"

    def stop_after_two_batches(progress):
        if progress.records >= 80:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_files(catalogue, [data / "loc_books.mrc"], batch_size=40, checkpoint=checkpoint,
                     progress=stop_after_two_batches, workers=1)
    assert not multiprocessing.active_children()
    assert len(list(catalogue.iter_records())) == 80
    resumed = import_files(catalogue, [data / "loc_books.mrc"], mode="add", batch_size=40, checkpoint=checkpoint, workers=1)
    assert (resumed.added, resumed.skipped) == (120, 0)
    assert len(list(catalogue.iter_records())) == 200


def dies_at(number: int, how):
    """A ``_Preparer.prepare`` that runs ``how`` at record ``number`` (in the reading process)."""
    prepare = importer._Preparer.prepare

    def prepare_or_die(self, path, result):
        if result.number == number:
            how()
        return prepare(self, path, result)

    return prepare_or_die


def test_a_reader_that_dies_stops_the_import_after_the_last_whole_batch(catalogue, data, tmp_path, monkeypatch):
    monkeypatch.setattr(importer._Preparer, "prepare", dies_at(95, lambda: os._exit(3)))
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(ImportStopped, match="exit code 3"):
        import_files(catalogue, [data / "loc_books.mrc"], batch_size=40, checkpoint=checkpoint, workers=1)
    # What landed is whole batches (those the reader got out before it died), and the checkpoint says so
    landed = len(list(catalogue.iter_records()))
    saved = json.loads(checkpoint.read_text())
    assert landed % 40 == 0 and landed < 95 and [entry["records"] for entry in saved.values()] == [landed]
    assert not multiprocessing.active_children()
    monkeypatch.undo()
    resumed = import_files(catalogue, [data / "loc_books.mrc"], mode="add", batch_size=40, checkpoint=checkpoint, workers=1)
    assert resumed.added == 200 - landed and len(list(catalogue.iter_records())) == 200


def test_a_reader_error_is_reported_and_nothing_of_its_batch_lands(catalogue, data, monkeypatch):
    def fail() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importer._Preparer, "prepare", dies_at(50, fail))
    with pytest.raises(ImportStopped, match="RuntimeError: disk on fire"):
        import_files(catalogue, [data / "loc_books.mrc"], batch_size=40, workers=1)
    assert len(list(catalogue.iter_records())) == 40


def test_a_file_that_is_not_marc_is_reported_the_same_way(catalogue, tmp_path):
    junk = tmp_path / "junk.mrc"
    junk.write_bytes(b"this is not a MARC file at all\n")
    reports = [import_files(catalogue, [junk], workers=workers) for workers in (0, 1)]
    assert reports[0].failures == reports[1].failures
    assert [f.reason for f in reports[1].failures] == ["unknown_format"]


def test_reading_workers_by_size_and_cores(tmp_path, monkeypatch):
    small, big = tmp_path / "small.mrc", tmp_path / "big.mrc"
    small.write_bytes(b"0" * 100)
    big.write_bytes(b"0" * importer.READING_PROCESS_MIN_BYTES)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert (reading_workers(small), reading_workers(big), reading_workers(big, 0), reading_workers(small, 1)) == (0, 1, 0, 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert reading_workers(big) == 0


def test_workers_beyond_one_are_refused(catalogue, data):
    with pytest.raises(ValueError, match="workers"):
        import_files(catalogue, [data / "loc_books.mrc"], workers=2)
