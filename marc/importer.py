"""Import MARC files into the catalogue, streaming, in batches, resumably.

    report = import_files(catalogue, ["books.mrc"], mode="replace", mapping="koha952",
                          progress=print, checkpoint=Path("books.ckpt"))

Modes say what to do when an incoming record matches a stored one (by 001/003,
035, ISBN or ISSN; see ``marc.matching``).  A record with no match is always
added.

- ``skip``: leave the stored record alone (the default; re-runs are safe)
- ``replace``: replace the stored bibliographic record, add or update its items
- ``merge_holdings``: keep the stored record, add or update its items
- ``add``: add the incoming record as a new one even so

With ``materials`` (the policy's ``vocabulary.materials``) a record whose
items map to a material outside that list fails as ``unknown_material``: its
items would be ones the policy cannot decide on.

Records are committed ``batch_size`` at a time; each record lands whole or not
at all.  With a ``checkpoint`` file the importer notes, after each commit, how
far it got in each file, so a run interrupted and started again carries on
where the last commit left off instead of reading from the start.

A large file is read in a second process (``workers``; see
``reading_workers``): it decodes the records and works out all that needs
no database (``_Preparer``), a batch ahead of this process, which matches,
writes and indexes each batch in its transaction.
"""

from __future__ import annotations

import gc
import itertools
import json
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Literal

import pymarc

from ils_bridge.services.catalogue import (
    BibEntry,
    Catalogue,
    CatalogueBatch,
    CatalogueError,
    Item,
)
from marc import holdings, matching
from marc.holdings import HoldingsMapping
from marc.reading import (
    Encoding,
    Format,
    Parser,
    ReadResult,
    UnknownFormat,
    read_records,
)
from marc.search.index import index_doc
from marc.search.upkeep import MERGE_AFTER_RECORDS, merge_after_bulk_load
from marc.validation import Linter

Mode = Literal["add", "replace", "merge_holdings", "skip"]
MODES: tuple[str, ...] = ("add", "replace", "merge_holdings", "skip")
MAX_REPORTED = 10_000  # failures and warnings kept in the report; the counts stay exact


@dataclass(frozen=True)
class ImportFailure:
    path: str
    number: int  # record number in the file, from 1
    offset: int | None  # byte offset in the file
    control_number: str | None
    reason: str  # short code: bad_leader, missing_245, rejected, ...
    detail: str

    def __str__(self) -> str:
        at = f" at byte {self.offset}" if self.offset is not None else ""
        cn = f" [001 {self.control_number}]" if self.control_number else ""
        return f"{self.path}: record {self.number}{at}{cn}: {self.reason}: {self.detail}"


@dataclass(frozen=True)
class LintWarnings:
    path: str
    number: int
    control_number: str | None
    warnings: list[str]


@dataclass(frozen=True)
class Progress:
    """What the progress callback receives after every batch."""

    path: str
    records: int  # read in this run, all files
    added: int
    updated: int
    skipped: int
    failed: int
    records_per_second: float
    offset: int | None = None  # bytes of the current file done (None for MARCXML)


@dataclass
class ImportReport:
    dry_run: bool = False
    added: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    items_added: int = 0
    items_updated: int = 0
    failures: list[ImportFailure] = field(default_factory=list)
    lint: list[LintWarnings] = field(default_factory=list)
    elapsed: float = 0.0  # includes the index merge
    index_merge_seconds: float | None = None  # None: the import was too small to merge the search index

    @property
    def records(self) -> int:
        return self.added + self.updated + self.skipped + self.failed

    def fail(self, failure: ImportFailure) -> None:
        self.failed += 1
        if len(self.failures) < MAX_REPORTED:
            self.failures.append(failure)


class Checkpoint:
    """How far each file got, kept in a small JSON file rewritten after each commit."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.state: dict[str, dict] = {}
        if path and path.exists():
            self.state = json.loads(path.read_text(encoding="utf-8"))

    def resume_point(self, source: Path) -> tuple[int, int]:
        """(byte offset, records done) for a file, or (0, 0) when it changed or is new."""
        entry = self.state.get(str(source.resolve()))
        if not entry or entry.get("size") != source.stat().st_size:
            return 0, 0
        return entry.get("offset") or 0, entry.get("records", 0)

    def is_done(self, source: Path) -> bool:
        entry = self.state.get(str(source.resolve()))
        return bool(entry and entry.get("done") and entry.get("size") == source.stat().st_size)

    def save(self, source: Path, offset: int | None, records: int, done: bool = False) -> None:
        if not self.path:
            return
        self.state[str(source.resolve())] = {
            "size": source.stat().st_size,
            "offset": offset,
            "records": records,
            "done": done,
        }
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text(json.dumps(self.state, indent=1), encoding="utf-8")
        temporary.replace(self.path)


def import_files(
    catalogue: Catalogue,
    paths: Iterable[str | Path],
    mode: Mode = "skip",
    *,
    dry_run: bool = False,
    mapping: str | Path | HoldingsMapping = "marc21",
    progress: Callable[[Progress], None] | None = None,
    lint: bool = False,
    checkpoint: Path | None = None,
    batch_size: int = 500,
    format: Format | None = None,
    encoding: Encoding = "auto",
    parser: Parser = "auto",
    materials: Collection[str] | None = None,
    merge_index_after: int = MERGE_AFTER_RECORDS,
    workers: int | None = None,
) -> ImportReport:
    """Import every record of the files; never stops on a bad record (see the report).

    ``workers=1`` reads and prepares the records in a second process while
    this one writes them; ``0`` does everything here; ``None`` (the default)
    chooses by the file's size (``reading_workers``).

    A run that added or updated ``merge_index_after`` records or more merges
    the search index once at its end (see ``marc.search.upkeep``)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if workers not in (None, 0, 1):
        raise ValueError(f"workers must be 0 or 1 (or None to choose by size), not {workers!r}")
    resolved = mapping if isinstance(mapping, HoldingsMapping) else HoldingsMapping.load(mapping)
    run = _ImportRun(
        catalogue=catalogue,
        mode=mode,
        dry_run=dry_run,
        preparer=_Preparer(
            resolved,
            catalogue.currency,
            frozenset(materials) if materials is not None else None,
            Linter() if lint else None,
        ),
        progress=progress,
        checkpoint=Checkpoint(None if dry_run else checkpoint),
        batch_size=batch_size,
        workers=workers,
    )
    with _fewer_gc_passes():
        for path in map(Path, paths):
            run.import_file(path, format=format, encoding=encoding, parser=parser)
    if not dry_run and run.report.added + run.report.updated >= merge_index_after:
        run.report.index_merge_seconds = merge_after_bulk_load(catalogue.engine)
    run.report.elapsed = time.monotonic() - run.started
    return run.report


# A file this big or bigger is read in a process of its own (when there is a second core):
# below it, starting the process costs more than it saves.
READING_PROCESS_MIN_BYTES = 1 << 20


def reading_workers(path: Path, workers: int | None = None) -> int:
    """How many reading processes an import of ``path`` uses: 0 or 1 (``workers``, else by size).

    One reader is all a file can use (it is read as one stream); it pays
    when the importing process has a core of its own to write on."""
    if workers is not None:
        return workers
    big = path.stat().st_size >= READING_PROCESS_MIN_BYTES
    return 1 if big and (os.cpu_count() or 1) >= 2 else 0


# Objects allocated between two passes of the cycle collector during an import.
IMPORT_GC_THRESHOLD = 20_000


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often while records are imported.

    Decoding allocates a few hundred objects per record (fields, subfields,
    strings), nearly all freed by reference counting, so the collector's
    default pass every 700 allocations mostly walks live objects: about a
    tenth of an import's CPU.  Cycles are still collected, only in fewer
    passes; the previous thresholds come back when the import ends.
    """
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], IMPORT_GC_THRESHOLD), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


@dataclass(frozen=True)
class _Prepared:
    """One record read, with what the catalogue stores for it, or why it fails.

    Plain values only (bytes, strings, tuples, ``BibEntry``/``Item`` of
    those; the search index's part as an ``IndexDoc``): the reading process
    sends batches of these to the importing one."""

    path: str
    number: int
    offset: int | None
    end_offset: int | None
    control_number: str | None = None
    entry: BibEntry | None = None
    items: list[Item] = field(default_factory=list)
    failure: ImportFailure | None = None
    lint: LintWarnings | None = None

    def failed(self, reason: str, detail: str) -> ImportFailure:
        return ImportFailure(self.path, self.number, self.offset, self.control_number, reason, detail)


Batch = tuple[list[_Prepared], bool]  # records prepared, and whether they end the file


@dataclass
class _Preparer:
    """Everything an import works out for a record before the database is
    touched: decoding and checks, the catalogue entry, match keys, items and
    the search index's text.  It runs in the importing process or in a
    reading process of its own (``workers=1``)."""

    mapping: HoldingsMapping
    currency: str | None
    materials: frozenset[str] | None
    linter: Linter | None

    def batches(self, path: Path, batch_size: int, start: tuple[int, int], read_options: dict) -> Iterator[Batch]:
        """The file's records from ``start`` (byte offset, records done), prepared, ``batch_size`` at a time.

        Raises ``UnknownFormat`` before the first batch for a file that is not MARC."""
        offset, done = start
        results = read_records(path, start_offset=offset, skip_records=done, **read_options)
        first = next(results, None)
        batch: list[_Prepared] = []
        for result in itertools.chain([first] if first else [], results):
            batch.append(self.prepare(str(path), result))
            if len(batch) >= batch_size:
                yield batch, False
                batch = []
        yield batch, True

    def prepare(self, path: str, result: ReadResult) -> _Prepared:
        """What to store for one record read, or why it cannot be stored."""
        if result.failure:
            f = result.failure
            failure = ImportFailure(path, f.number, f.offset, f.control_number, f.reason, f.detail)
            return _Prepared(path, result.number, result.offset, result.end_offset, f.control_number, failure=failure)
        record = result.record
        assert record is not None
        control = matching.control_number(record)
        at = (path, result.number, result.offset, result.end_offset, control)
        lint = self._lint(path, result.number, record)
        try:
            entry, items = catalogue_entry(record, self.mapping, self.currency, raw=result.raw)
        except (ValueError, pymarc.PymarcException) as exc:
            return _Prepared(*at, failure=ImportFailure(*at[:3], control, "rejected", str(exc)), lint=lint)
        unknown = self._unknown_material(items)
        if unknown:
            return _Prepared(*at, failure=ImportFailure(*at[:3], control, "unknown_material", unknown), lint=lint)
        return _Prepared(*at, entry=entry, items=items, lint=lint)

    def _unknown_material(self, items: list[Item]) -> str | None:
        """Why the record's items cannot be stored under ``materials``, or None when they can."""
        if self.materials is None:
            return None
        for item in items:
            if item.material not in self.materials:
                return (
                    f"item {item.barcode} maps to material {item.material!r}, which is not in the policy's "
                    f"vocabulary.materials (map it in the mapping's item_types or leader_materials)"
                )
        return None

    def _lint(self, path: str, number: int, record: pymarc.Record) -> LintWarnings | None:
        if self.linter is None:
            return None
        warnings = self.linter.check(record)
        return LintWarnings(path, number, matching.control_number(record), warnings) if warnings else None


# --- the reading process ------------------------------------------------------------

_POLL_SECONDS = 0.5  # how often the importing process checks that the reading one is alive


class ImportStopped(RuntimeError):
    """The reading process failed or died: the batches committed before it stay, the rest is not written."""


@dataclass(frozen=True)
class _ReaderFailed:
    """What the reading process sends instead of a batch when it cannot go on."""

    detail: str
    unknown_format: bool = False


def _read_in_process(
    preparer: _Preparer, path: Path, batch_size: int, start: tuple[int, int], read_options: dict, pipe: Connection
) -> None:
    """The reading process: prepared batches into ``pipe``, then ends.

    Sending waits while the importing process has not taken the previous
    batch, so the reader runs at most one batch ahead: memory stays flat."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importing process's to handle; it stops this one
    try:
        for batch in preparer.batches(path, batch_size, start, read_options):
            pipe.send(batch)
    except UnknownFormat as exc:
        pipe.send(_ReaderFailed(str(exc), unknown_format=True))
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the importing process must hear of it
        pipe.send(_ReaderFailed(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def _batches_from_reader(
    preparer: _Preparer, path: Path, batch_size: int, start: tuple[int, int], read_options: dict
) -> Iterator[Batch]:
    """``preparer.batches`` run in a reading process, handed over through a pipe."""
    context = multiprocessing.get_context("fork")  # the preparer and its mapping need no pickling
    receiving, sending = context.Pipe(duplex=False)
    reader = context.Process(
        target=_read_in_process, args=(preparer, path, batch_size, start, read_options, sending), name="marc-reader", daemon=True
    )
    reader.start()
    sending.close()  # the reader holds the only sending end: its death is the end of the pipe
    try:
        while True:
            message = _receive(receiving, reader)
            if isinstance(message, _ReaderFailed):
                if message.unknown_format:
                    raise UnknownFormat(message.detail)
                raise ImportStopped(f"{path}: reading failed: {message.detail}")
            yield message
            if message[1]:
                return
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join()
        receiving.close()


def _receive(pipe: Connection, reader: BaseProcess) -> Batch | _ReaderFailed:
    """The next whole message of the reading process; ``ImportStopped`` if it died before sending it."""
    try:
        while not pipe.poll(_POLL_SECONDS):
            if not reader.is_alive() and not pipe.poll(0):
                raise EOFError
        return pipe.recv()
    except (EOFError, OSError):
        reader.join()
        raise ImportStopped(
            f"the reading process stopped unexpectedly (exit code {reader.exitcode}); "
            "the batches committed before it stay, run the same command again to carry on"
        ) from None


# --- the importing process ------------------------------------------------------------


@dataclass
class _ImportRun:
    catalogue: Catalogue
    mode: Mode
    dry_run: bool
    preparer: _Preparer
    progress: Callable[[Progress], None] | None
    checkpoint: Checkpoint
    batch_size: int
    workers: int | None = None
    report: ImportReport = field(init=False)
    position: tuple[int | None, int] = (0, 0)  # (byte offset, records done) in the current file
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.report = ImportReport(dry_run=self.dry_run)

    def import_file(self, path: Path, **read_options: object) -> None:
        if self.checkpoint.is_done(path):
            return
        offset, done = self.checkpoint.resume_point(path)
        self.position = (offset, done)
        start = (offset, done)
        if reading_workers(path, self.workers):
            batches = _batches_from_reader(self.preparer, path, self.batch_size, start, read_options)
        else:
            batches = self.preparer.batches(path, self.batch_size, start, read_options)
        try:
            for batch, last in batches:
                self._commit(path, batch, last)
        except UnknownFormat as exc:
            self.report.fail(ImportFailure(str(path), 0, 0, None, "unknown_format", str(exc)))

    def _commit(self, path: Path, batch: list[_Prepared], last: bool = False) -> None:
        with self.catalogue.batch(dry_run=self.dry_run) as writer:
            self._import_batch(writer, batch)
        if batch:
            self.position = (batch[-1].end_offset, batch[-1].number)
        self.checkpoint.save(path, *self.position, done=last)
        if self.progress:
            elapsed = max(time.monotonic() - self.started, 1e-9)
            self.progress(
                Progress(
                    str(path),
                    self.report.records,
                    self.report.added,
                    self.report.updated,
                    self.report.skipped,
                    self.report.failed,
                    self.report.records / elapsed,
                    self.position[0],
                )
            )

    def _import_batch(self, writer: CatalogueBatch, batch: list[_Prepared]) -> None:
        """Store a batch's records, in file order, matching them in one query.

        Records with no match are held back and added together (``add_many``)
        just before anything else is written or reported, so the outcome is
        the same as writing each record in turn.  A record is matched again on
        its own when an earlier one of the batch wrote one of its keys or
        replaced the record it matched.
        """
        for prepared in batch:
            if prepared.lint and len(self.report.lint) < MAX_REPORTED:
                self.report.lint.append(prepared.lint)
        to_store = [prepared for prepared in batch if prepared.entry]
        found = writer.find_matches([p.entry.keys for p in to_store]) if self.mode != "add" else []
        matches = dict(zip(map(id, to_store), found))
        pending: list[_Prepared] = []
        written_keys: set[tuple[str, str]] = set()
        replaced: set[int] = set()
        for prepared in batch:
            if prepared.failure:
                self._add_pending(writer, pending)
                self.report.fail(prepared.failure)
                continue
            keys = set(prepared.entry.keys)
            match = matches.get(id(prepared))
            if self.mode != "add" and (match in replaced or not written_keys.isdisjoint(keys)):
                self._add_pending(writer, pending)
                match = writer.find_match(prepared.entry.keys)
            if match is None:
                pending.append(prepared)
                written_keys |= keys
            elif self.mode == "skip":
                self.report.skipped += 1
            else:
                self._add_pending(writer, pending)
                self._update(writer, match, prepared)
                if self.mode == "replace":
                    replaced.add(match)
                    written_keys |= keys
        self._add_pending(writer, pending)

    def _add_pending(self, writer: CatalogueBatch, pending: list[_Prepared]) -> None:
        outcomes = writer.add_many([(prepared.entry, prepared.items) for prepared in pending])
        for prepared, outcome in zip(pending, outcomes):
            if isinstance(outcome, CatalogueError):
                self.report.fail(prepared.failed("rejected", str(outcome)))
            else:
                self.report.added += 1
                self.report.items_added += len(prepared.items)
        pending.clear()

    def _update(self, writer: CatalogueBatch, match: int, prepared: _Prepared) -> None:
        """Replace the matched record, or merge the incoming items into it."""
        try:
            if self.mode == "replace":
                change = writer.replace(match, prepared.entry, prepared.items)
            else:
                change = writer.merge_holdings(match, prepared.items)
        except CatalogueError as exc:
            self.report.fail(prepared.failed("rejected", str(exc)))
            return
        self.report.updated += 1
        self.report.items_added += change.added
        self.report.items_updated += change.updated


def catalogue_entry(
    record: pymarc.Record, mapping: HoldingsMapping, currency: str | None, raw: bytes | None = None
) -> tuple[BibEntry, list[Item]]:
    """What the catalogue stores for one record: the bare bibliographic record and its items.

    ``raw`` is the record's ISO 2709 bytes as read (``ReadResult.raw``), when
    they can be stored as they are, less the holdings fields.
    """
    bare = holdings.without_holdings(record, mapping)
    entry = BibEntry(
        marc=_bare_iso2709(record, bare, raw, mapping),
        title=(record.title or "").strip(),
        author=record.author,
        pub_year=holdings.publication_year(record),
        language=holdings.record_language(record),
        control_number=_short(matching.control_number(record)),
        control_source=_short(matching.control_source(record)),
        keys=[tuple(key) for key in matching.match_keys(record)],
        parsed=index_doc(bare),  # the search index's part, worked out here (in the reading process, if any)
    )
    return entry, holdings.items_of_record(record, mapping, currency)


def _bare_iso2709(record: pymarc.Record, bare: pymarc.Record, raw: bytes | None, mapping: HoldingsMapping) -> bytes:
    """The bare record's ISO 2709 bytes, from those read where there are some (no serialising)."""
    if raw is None:
        return bare.as_marc()
    if len(bare.fields) == len(record.fields):  # no holdings fields: the record as read, marked Unicode
        return raw[:9] + b"a" + raw[10:]
    return holdings.iso2709_without_holdings(raw, mapping)


def _short(value: str | None, length: int = 64) -> str | None:
    return value[:length] if value else value
