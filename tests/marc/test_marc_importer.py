from __future__ import annotations

import gc
import shutil
from decimal import Decimal
from pathlib import Path

import pymarc
import pytest

from marc.importer import import_files
from marc.reading import read_records
from marc.search import Clause, Index, open_index


def test_import_counts_and_failures_across_files(catalogue, data):
    seen = []
    report = import_files(
        catalogue,
        [data / "loc_books.mrc", data / "bad_length.mrc", data / "truncated.mrc"],
        batch_size=50,
        progress=seen.append,
    )
    # bad_length: CN0001 + VN0001 good; truncated: the same two again (skipped) + a truncated one
    assert (report.added, report.skipped, report.failed) == (202, 2, 2)
    assert [(f.number, f.reason) for f in report.failures] == [(2, "bad_length"), (3, "truncated")]
    assert report.failures[0].control_number == "CN0001" and report.failures[0].offset == 390
    assert len(list(catalogue.iter_records())) == 202
    assert seen[-1].records == report.records == 206 and seen[-1].records_per_second > 0
    assert len(seen) >= 4 + 2  # one call per batch


def test_stored_record_is_utf8_iso2709_without_holdings(catalogue, data):
    import_files(catalogue, [data / "unicode_852.mrc"], mapping="marc21")
    chinese, vietnamese = catalogue.iter_records()
    record = pymarc.Record(data=chinese.marc)
    assert record.leader[9] == "a" and not record.get_fields("852", "876")
    assert (chinese.title, chinese.author, chinese.pub_year, chinese.language) == ("机器学习 /", "周志华", 2022, "chi")
    assert [i.barcode for i in chinese.items] == ["C0000001", "C0000002"]
    assert vietnamese.title == "Tôi thấy hoa vàng trên cỏ xanh /"
    assert (vietnamese.items[0].price, vietnamese.items[0].currency) == (Decimal("120000"), "VND")


def test_rerun_in_skip_mode_adds_nothing(catalogue, data):
    import_files(catalogue, [data / "loc_books.mrc"])
    again = import_files(catalogue, [data / "loc_books.mrc"])
    assert (again.added, again.skipped) == (0, 200)
    assert len(list(catalogue.iter_records())) == 200


def test_add_mode_adds_even_when_matched(catalogue, data):
    import_files(catalogue, [data / "unicode_952.mrc"], mapping="koha952")
    # the same barcodes cannot belong to two records: the second copies are refused whole
    again = import_files(catalogue, [data / "unicode_952.mrc"], mode="add", mapping="koha952")
    assert (again.added, again.failed) == (0, 2)
    assert {f.reason for f in again.failures} == {"rejected"}
    assert len(list(catalogue.iter_records())) == 2


def test_replace_mode_overlays_the_bib(catalogue, data, tmp_path):
    import_files(catalogue, [data / "unicode_952.mrc"], mapping="koha952")
    records = [r.record for r in read_records(data / "unicode_952.mrc")]
    records[0]["245"]["a"] = "机器学习（第二版） /"
    changed = tmp_path / "changed.mrc"
    changed.write_bytes(b"".join(r.as_marc() for r in records))
    report = import_files(catalogue, [changed], mode="replace", mapping="koha952")
    assert (report.added, report.updated, report.items_updated) == (0, 2, 3)
    assert [r.title for r in catalogue.iter_records()][0] == "机器学习（第二版） /"


def test_merge_holdings_adds_items_to_the_matched_record(catalogue, data, tmp_path):
    import_files(catalogue, [data / "unicode_952.mrc"], mapping="koha952")
    record = next(read_records(data / "unicode_952.mrc")).record
    record.remove_fields("952")
    record["245"]["a"] = "ignored title"
    record.add_ordered_field(
        pymarc.Field(
            "952", pymarc.Indicators(" ", " "), [pymarc.Subfield("p", "C0000003"), pymarc.Subfield("a", "WEST")]
        )
    )
    extra = tmp_path / "extra.mrc"
    extra.write_bytes(record.as_marc())
    report = import_files(catalogue, [extra], mode="merge_holdings", mapping="koha952")
    assert (report.updated, report.items_added) == (1, 1)
    stored = next(iter(catalogue.iter_records()))
    assert stored.title == "机器学习 /"
    assert [i.barcode for i in stored.items] == ["C0000001", "C0000002", "C0000003"]


def test_matches_within_one_file(catalogue, data, tmp_path):
    doubled = tmp_path / "doubled.mrc"
    raw = (data / "loc_books.mrc").read_bytes()
    five = raw[: [r.end_offset for r in read_records(data / "loc_books.mrc")][4]]
    doubled.write_bytes(five * 2)
    report = import_files(catalogue, [doubled], batch_size=3)
    assert (report.added, report.skipped, report.failed) == (5, 5, 0)


def test_dry_run_writes_nothing(catalogue, data):
    report = import_files(catalogue, [data / "loc_books.mrc"], dry_run=True)
    assert report.added == 200 and report.dry_run
    assert list(catalogue.iter_records()) == []


def test_lint_warnings_reported_without_blocking(catalogue, data):
    pytest.importorskip("marc_lint")
    report = import_files(catalogue, [data / "loc_books.mrc"], lint=True)
    assert report.added == 200
    assert report.lint and all(w.warnings for w in report.lint)


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_from_the_checkpoint(catalogue, data, tmp_path):
    checkpoint = tmp_path / "run.ckpt"

    def stop_after_two_batches(progress):
        if progress.records >= 80:
            raise Interrupt

    with pytest.raises(Interrupt):
        import_files(
            catalogue, [data / "loc_books.mrc"], batch_size=40, checkpoint=checkpoint, progress=stop_after_two_batches
        )
    assert len(list(catalogue.iter_records())) == 80
    resumed = import_files(catalogue, [data / "loc_books.mrc"], mode="add", batch_size=40, checkpoint=checkpoint)
    # "add" would duplicate anything read twice: the checkpoint makes it start at record 81
    assert (resumed.added, resumed.skipped) == (120, 0)
    assert len(list(catalogue.iter_records())) == 200
    finished = import_files(catalogue, [data / "loc_books.mrc"], mode="add", checkpoint=checkpoint)
    assert finished.records == 0  # the file is marked done


def test_checkpoint_ignored_when_the_file_changed(catalogue, data, tmp_path):
    source = tmp_path / "books.mrc"
    shutil.copy(data / "unicode_852.mrc", source)
    checkpoint = tmp_path / "run.ckpt"
    import_files(catalogue, [source], checkpoint=checkpoint)
    source.write_bytes(source.read_bytes() + (data / "loc_books.mrc").read_bytes()[:10000])
    report = import_files(catalogue, [source], checkpoint=checkpoint)
    assert report.skipped == 2 and report.added > 0


def test_resume_works_for_marcxml(catalogue, data, tmp_path):
    checkpoint = tmp_path / "xml.ckpt"

    def stop(progress):
        raise Interrupt

    with pytest.raises(Interrupt):
        import_files(catalogue, [data / "loc_books.xml"], batch_size=8, checkpoint=checkpoint, progress=stop)
    resumed = import_files(catalogue, [data / "loc_books.xml"], mode="add", checkpoint=checkpoint)
    assert (resumed.added, len(list(catalogue.iter_records()))) == (12, 20)


def test_unknown_mode_is_refused(catalogue, data):
    with pytest.raises(ValueError, match="unknown mode"):
        import_files(catalogue, [data / "loc_books.mrc"], mode="overwrite")


def test_unreadable_and_empty_files_are_reported_and_the_run_goes_on(catalogue, data, tmp_path):
    empty = tmp_path / "empty.mrc"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("these are not MARC records\n")
    report = import_files(catalogue, [empty, text, data / "unicode_852.mrc"])
    assert report.added == 2
    assert [(f.path, f.reason) for f in report.failures] == [(str(text), "unknown_format")]


def _edited(data, tmp_path, name: str, edit) -> Path:
    """unicode_952.mrc followed by its first record changed by ``edit``, as a new file."""
    records = [r.record for r in read_records(data / "unicode_952.mrc")]
    copy = next(read_records(data / "unicode_952.mrc")).record
    edit(copy)
    path = tmp_path / name
    path.write_bytes(b"".join(r.as_marc() for r in [*records, copy]))
    return path


def test_a_record_matching_an_earlier_one_of_the_same_batch_replaces_it(catalogue, data, tmp_path):
    def retitle(record):
        record["245"]["a"] = "机器学习（第二版） /"

    path = _edited(data, tmp_path, "again.mrc", retitle)
    report = import_files(catalogue, [path], mode="replace", mapping="koha952")
    assert (report.added, report.updated, report.failed) == (2, 1, 0)
    assert [r.title for r in catalogue.iter_records()] == ["机器学习（第二版） /", "Tôi thấy hoa vàng trên cỏ xanh /"]


def test_a_barcode_taken_earlier_in_the_batch_fails_that_record_in_file_order(catalogue, data, tmp_path):
    def other_book(record):
        record["001"].data = "OTHER1"
        record.remove_fields("020", "035")

    path = _edited(data, tmp_path, "clash.mrc", other_book)
    (tmp_path / "broken.mrc").write_bytes(path.read_bytes() + b"00042 broken")
    report = import_files(catalogue, [path, tmp_path / "broken.mrc"], mapping="koha952")
    # broken.mrc: the first two are skipped, OTHER1 clashes again, then the broken tail
    assert (report.added, report.skipped, report.failed) == (2, 2, 3)
    first = next(catalogue.iter_records())
    assert [(f.path[-9:], f.number, f.reason, f.control_number) for f in report.failures] == [
        ("clash.mrc", 3, "rejected", "OTHER1"),
        ("roken.mrc", 3, "rejected", "OTHER1"),
        ("roken.mrc", 4, "bad_leader", None),
    ]
    assert f"already belongs to record {first.id}" in report.failures[0].detail


def test_imported_records_are_searchable_and_a_dry_run_indexes_nothing(catalogue, engine, data):
    index = open_index(engine)
    title = Clause(Index.TITLE, "机器学习")
    import_files(catalogue, [data / "unicode_952.mrc"], mapping="koha952", dry_run=True)
    assert index.search(title) == []
    import_files(catalogue, [data / "unicode_952.mrc"], mapping="koha952")
    chinese = next(catalogue.iter_records())
    assert index.search(title) == [chinese.id]
    assert index.search(Clause(Index.ANY, "hoa vàng")) == [chinese.id + 1]


def test_a_large_import_merges_the_search_index_once_at_its_end(catalogue, data):
    small = import_files(catalogue, [data / "unicode_952.mrc"], mapping="koha952")
    assert small.index_merge_seconds is None

    report = import_files(catalogue, [data / "loc_books.mrc"], batch_size=2, merge_index_after=1)

    assert report.added >= 1
    assert report.index_merge_seconds is not None
    if catalogue.engine.dialect.name == "sqlite":
        with catalogue.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(DISTINCT segid) FROM search_fts_idx").scalar_one() == 1
    assert open_index(catalogue.engine).search(Clause(Index.ANY, "the"))  # still answers


def test_a_dry_run_never_merges_the_index(catalogue, data):
    report = import_files(catalogue, [data / "loc_books.mrc"], dry_run=True, merge_index_after=1)
    assert report.index_merge_seconds is None


def test_an_import_restores_the_garbage_collector_thresholds(catalogue, data):
    before = gc.get_threshold()
    import_files(catalogue, [data / "loc_books.mrc"])
    assert gc.get_threshold() == before
