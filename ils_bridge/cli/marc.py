"""`ils-bridge marc`: load MARC files into the catalogue, write the catalogue out, check files.

The work is done by ``marc/`` (reading, holdings mappings, matching, the
importer and exporter); these commands add what a cataloger at a terminal
needs: a progress bar, a summary, a per-record report, a checkpoint to resume
an interrupted import, and exit codes a script can act on (docs/marc.md).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import click
import platformdirs
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from ils_bridge.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    CliContext,
    CliError,
    Group,
    emit,
    pass_cli,
)
from ils_bridge.cli.options import TIME, local_time
from ils_bridge.cli.tables import console, done, print_table, warn
from ils_bridge.services.catalogue import Catalogue
from marc import importer
from marc.exporting import export_records
from marc.holdings import HoldingsMapping, MappingError
from marc.importer import ImportFailure, ImportReport, LintWarnings
from marc.matching import control_number
from marc.reading import FORMATS, UnknownFormat, detect_format, read_records
from marc.validation import Linter

EXIT_SOME_FAILED = 5  # the run finished, the good records landed, some records did not
EXIT_INTERRUPTED = 130  # Ctrl-C: what was committed stays, the checkpoint says where to carry on
MODES = {"skip": "skip", "add": "add", "replace": "replace", "merge-holdings": "merge_holdings"}
FORMAT_OF_SUFFIX = {".mrc": "iso2709", ".marc": "iso2709", ".iso": "iso2709", ".xml": "marcxml", ".json": "json"}
REPORT_SUFFIXES = (".json", ".csv")
REPORT_COLUMNS = ("kind", "file", "record", "offset", "control_number", "reason", "detail")
COUNTS = ("added", "updated", "skipped", "failed", "items_added", "items_updated")


@click.group("marc", cls=Group)
def commands() -> None:
    """MARC records: import files into the catalogue, export it, validate files."""


def mapping_option(command: Any) -> Any:
    return click.option(
        "--mapping", default="marc21", show_default=True, metavar="NAME|FILE",
        help="Holdings mapping: a shipped one (marc21, koha952, xuzhou-demo, hcmc-demo) or a YAML file.")(command)


def format_option(command: Any) -> Any:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help="Serialisation (default: detected from the content, or DEST's suffix).")(command)


# --- import -------------------------------------------------------------------------


@commands.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE...")
@click.option("--mode", type=click.Choice(list(MODES)), default="skip", show_default=True,
              help="For a record that matches a stored one: skip it, add it anyway, replace the stored record, "
                   "or merge its holdings into the stored record.")
@click.option("--dry-run", is_flag=True, help="Do all the work, then roll it back: nothing is written.")
@mapping_option
@format_option
@click.option("--encoding", type=click.Choice(["auto", "utf-8", "marc-8"]), default="auto", show_default=True,
              help="ISO 2709 character set: auto follows leader/09.")
@click.option("--parser", type=click.Choice(["auto", "pymarc", "rmarc"]), default="auto", show_default=True,
              help="ISO 2709 decoder: rmarc (the faster Rust one) or pymarc; auto takes rmarc when it is installed.")
@click.option("--lint", is_flag=True, help="Also report MARC21 content warnings (records are imported anyway).")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Records committed per transaction (and between checkpoints).")
@click.option("--workers", type=click.IntRange(0, 1), default=None,
              help="1: read and prepare the records in a second process while this one writes them; 0: one "
                   "process.  Default: 1 for files of 1 MB or more on a machine with two cores or more.")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Carry on where an interrupted import of the same files stopped, or start again from the top.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path),
              help="Checkpoint file (default: beside a SQLite database, else in your state directory).")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the full report to this file: .json or .csv.")
@pass_cli
def import_(cli: CliContext, files: tuple[Path, ...], mode: str, dry_run: bool, mapping: str, fmt: str | None,
            encoding: str, parser: str, lint: bool, batch_size: int, workers: int | None, resume: bool,
            checkpoint: Path | None, report_file: Path | None) -> None:
    """Import MARC records (ISO 2709, MARCXML or MARC-in-JSON) with their items into the catalogue.

    A bad record never stops the run: it is reported (record number, byte
    offset, 001, reason) and the others land.  Exit 0 when every record
    landed, 5 when some failed, 2 for bad input (nothing is written), 130
    when interrupted (run the same command again to carry on).

    \b
    Examples:
      ils-bridge marc import books.mrc --mapping koha952
      ils-bridge marc import new.xml --mode replace --report import-report.csv
      ils-bridge marc import big.mrc --dry-run --lint
    """
    _check_files(files, fmt)
    _check_report_suffix(report_file)
    holdings = _load_mapping(mapping)
    _require_linter(lint)
    _require_parser(parser)
    lib = cli.library()
    catalogue = Catalogue(lib.app.db.engine, lib.record.id)
    materials = lib.current_policy().vocabulary.get("materials")
    checkpoint = checkpoint or default_checkpoint(cli.database, lib.code)
    if not dry_run:  # a dry run neither reads nor writes the checkpoint
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        if not resume:
            forget_files(checkpoint, files)
        elif not cli.json:
            _say_where_resuming(checkpoint, files)
    options = {"mode": MODES[mode], "dry_run": dry_run, "mapping": holdings, "lint": lint, "checkpoint": checkpoint,
               "batch_size": batch_size, "format": fmt, "encoding": encoding, "parser": parser, "materials": materials,
               "workers": workers}
    try:
        with import_progress(files, show=not cli.json) as progress:
            report = importer.import_files(catalogue, files, progress=progress, **options)
    except KeyboardInterrupt:
        raise CliError(f"interrupted: the records committed so far are stored; run the same command again to carry "
                       f"on (checkpoint {checkpoint})", EXIT_INTERRUPTED) from None
    except importer.ImportStopped as exc:
        raise CliError(f"import stopped: {exc}", EXIT_REFUSED) from None
    if not dry_run:
        forget_files(checkpoint, files)
    document = report_document(report, files, mode, holdings.name)
    if report_file:
        write_report(report_file, document, report)
    emit(cli, document, lambda _: _print_import(report, report_file, materials))
    if report.failed:
        click.get_current_context().exit(EXIT_SOME_FAILED)


def _check_files(files: tuple[Path, ...], fmt: str | None) -> None:
    """Every input exists and (unless --format says) looks like MARC: bad input stops the run before any write."""
    for path in files:
        if not path.is_file():
            raise CliError(f"{path}: no such file")
        if fmt is None:
            try:
                with path.open("rb") as stream:
                    head = stream.read(64)
                if head.strip(b"\r\n\t \x00"):
                    detect_format(head)
            except UnknownFormat as exc:
                raise CliError(f"{path}: {exc}") from None
            except OSError as exc:
                raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def _check_report_suffix(report_file: Path | None) -> None:
    if report_file and report_file.suffix.lower() not in REPORT_SUFFIXES:
        raise CliError(f"--report {report_file}: name a .json or .csv file")


def _load_mapping(name_or_path: str) -> HoldingsMapping:
    try:
        return HoldingsMapping.load(name_or_path)
    except MappingError as exc:
        raise CliError(f"--mapping {name_or_path}: {exc}") from None


def _require_linter(lint: bool) -> None:
    if lint:
        try:
            Linter()
        except RuntimeError as exc:
            raise CliError(str(exc)) from None


def _require_parser(parser: str) -> None:
    if parser == "rmarc":
        try:
            import rmarc._rmarc  # noqa: F401
        except ImportError:
            raise CliError("--parser rmarc: the rmarc package is not installed (pip install rmarc)") from None


# --- checkpoints --------------------------------------------------------------------


def default_checkpoint(database_url: str, library_code: str) -> Path:
    """Beside a SQLite database file; for a server database, in the user's state directory."""
    url = make_url(database_url)
    name = f"marc-import-{library_code}.checkpoint.json"
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        return database.with_name(f"{database.name}.{name}")
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return Path(platformdirs.user_state_dir("ils-bridge")) / f"{digest}.{name}"


def forget_files(checkpoint: Path, files: tuple[Path, ...]) -> None:
    """Drop these files' resume points (a finished run, or --no-resume); the file goes when empty."""
    if not checkpoint.exists():
        return
    state = importer.Checkpoint(checkpoint).state
    for path in files:
        state.pop(str(path.resolve()), None)
    if state:
        checkpoint.write_text(json.dumps(state, indent=1), encoding="utf-8")
    else:
        checkpoint.unlink()


def _say_where_resuming(checkpoint: Path, files: tuple[Path, ...]) -> None:
    if not checkpoint.exists():
        return
    saved = importer.Checkpoint(checkpoint)
    for path in files:
        if saved.is_done(path):
            warn(f"{path}: finished by the interrupted run, skipped")
        elif (records := saved.resume_point(path)[1]):
            warn(f"{path}: resuming after record {records} (--no-resume starts from the top)")


# --- progress -----------------------------------------------------------------------


class ImportProgressBar:
    """Bytes of the input files done (records and records/s beside it), on stderr."""

    def __init__(self, bar: Progress, files: tuple[Path, ...]) -> None:
        self.bar = bar
        self.file_starts: dict[str, int] = {}
        total = 0
        for path in files:
            self.file_starts[str(path)] = total
            total += path.stat().st_size
        self.task = bar.add_task("importing", total=total or None, records=0, rate=0.0)

    def __call__(self, progress: importer.Progress) -> None:
        position = self.file_starts.get(progress.path, 0) + (progress.offset or 0)
        self.bar.update(self.task, completed=position, description=Path(progress.path).name,
                        records=progress.records, rate=progress.records_per_second)


@contextmanager
def import_progress(files: tuple[Path, ...], *, show: bool) -> Iterator[ImportProgressBar | None]:
    if not show:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[records]:,} records"),
               TextColumn("{task.fields[rate]:,.0f} records/s"), TimeElapsedColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        yield ImportProgressBar(bar, files)


# --- reports ------------------------------------------------------------------------


def report_document(report: ImportReport, files: tuple[Path, ...], mode: str, mapping: str) -> dict[str, Any]:
    """The import report as one JSON-ready document."""
    return {
        "files": [str(path) for path in files],
        "mode": mode,
        "mapping": mapping,
        "dry_run": report.dry_run,
        "records": report.records,
        **{name: getattr(report, name) for name in COUNTS},
        "elapsed_seconds": round(report.elapsed, 3),
        "records_per_second": round(report.records / report.elapsed, 1) if report.elapsed else None,
        "index_merge_seconds": None if report.index_merge_seconds is None else round(report.index_merge_seconds, 3),
        "failures": [dataclasses.asdict(failure) for failure in report.failures],
        "lint": [dataclasses.asdict(warnings) for warnings in report.lint],
    }


def report_rows(failures: list[ImportFailure], lint: list[LintWarnings]) -> Iterator[dict[str, Any]]:
    """One CSV row per failed record and per lint warning."""
    for f in failures:
        yield {"kind": "failure", "file": f.path, "record": f.number, "offset": f.offset,
               "control_number": f.control_number, "reason": f.reason, "detail": f.detail}
    for w in lint:
        for warning in w.warnings:
            yield {"kind": "lint", "file": w.path, "record": w.number, "offset": None,
                   "control_number": w.control_number, "reason": "lint", "detail": warning}


def write_report(path: Path, document: dict[str, Any], report: ImportReport) -> None:
    """JSON: the whole document.  CSV: a ``total`` row per count, then the per-record rows."""
    try:
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            return
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, REPORT_COLUMNS)
            writer.writeheader()
            writer.writerows({"kind": "total", "reason": name, "detail": document[name]} for name in COUNTS)
            writer.writerows(report_rows(report.failures, report.lint))
    except OSError as exc:
        raise CliError(f"cannot write the report to {path}: {exc.strerror or exc}") from None


def _print_import(report: ImportReport, report_file: Path | None, materials: tuple[str, ...] | None) -> None:
    rate = f", {report.records / report.elapsed:,.0f} records/s" if report.elapsed else ""
    title = f"{'Dry run (nothing written)' if report.dry_run else 'Import'}: {report.records} records " \
            f"in {report.elapsed:.1f} s{rate}"
    print_table(title, [("added", "added"), ("updated", "updated"), ("skipped", "skipped"), ("failed", "failed"),
                        ("items added", "items_added"), ("items updated", "items_updated")],
                [{name: getattr(report, name) for name in COUNTS}])
    print_problems(report.failures, report.lint)
    if report.index_merge_seconds is not None:
        done(f"search index merged after the bulk load in {report.index_merge_seconds:.1f} s")
    if materials and any(f.reason == "unknown_material" for f in report.failures):
        warn(f"the policy's materials are: {', '.join(materials)}")
    if len(report.failures) < report.failed:
        warn(f"only the first {len(report.failures)} failures are listed")
    if report_file:
        done(f"report written to {report_file}")
    if report.failed:
        warn(f"{report.failed} record(s) failed; the others landed")


def print_problems(failures: list[ImportFailure], lint: list[LintWarnings]) -> None:
    """The failed records and the lint warnings, as tables."""
    if failures:
        print_table("Failed records", [("file", "file"), ("record", "record"), ("byte", "offset"),
                                       ("001", "control_number"), ("reason", "reason"), ("detail", "detail")],
                    report_rows(failures, []))
    if lint:
        print_table("Lint warnings", [("file", "file"), ("record", "record"), ("001", "control_number"),
                                      ("warning", "detail")], report_rows([], lint))


# --- export -------------------------------------------------------------------------


@commands.command("export")
@click.argument("destination", metavar="DEST")
@format_option
@mapping_option
@click.option("--since", type=TIME, help="Only records changed at or after this date or time (library local time).")
@click.option("--id", "record_ids", type=int, multiple=True, metavar="N", help="Only this record (repeatable).")
@click.option("--include-deleted", is_flag=True, help="Also deleted records, with leader/05 = d.")
@pass_cli
def export(cli: CliContext, destination: str, fmt: str | None, mapping: str, since: dt.datetime | None,
           record_ids: tuple[int, ...], include_deleted: bool) -> None:
    """Export catalogue records with their items as holdings fields; DEST "-" writes to stdout.

    \b
    Examples:
      ils-bridge marc export catalogue.mrc --mapping koha952
      ils-bridge marc export changes.xml --since 2026-03-01
      ils-bridge marc export - --format json --id 12 --id 13
    """
    fmt = fmt or FORMAT_OF_SUFFIX.get(Path(destination).suffix.lower(), "iso2709")
    holdings = _load_mapping(mapping)
    lib = cli.library()
    catalogue = Catalogue(lib.app.db.engine, lib.record.id)
    _check_ids(catalogue, record_ids)
    to_stdout = destination == "-"
    options = {"mapping": holdings, "since": local_time(lib, since), "record_ids": record_ids or None,
               "include_deleted": include_deleted}
    with _export_progress(show=not cli.json) as progress, _destination(destination) as stream:
        count = export_records(catalogue, stream, fmt, progress=progress, **options)
    summary = {"exported": count, "format": fmt, "destination": destination, "library": lib.code}
    if to_stdout:
        click.echo(f"exported {count} records ({fmt})", err=True)
    else:
        emit(cli, summary, lambda s: done(f"exported {count} records to {destination} ({fmt})"))


def _check_ids(catalogue: Catalogue, record_ids: tuple[int, ...]) -> None:
    missing = [str(record_id) for record_id in record_ids if catalogue.get(record_id) is None]
    if missing:
        raise CliError(f"no record {', '.join(missing)} in this library", EXIT_NOT_FOUND)


@contextmanager
def _destination(destination: str) -> Iterator[BinaryIO]:
    """stdout for "-"; else a file that appears only once complete (written beside it, then renamed)."""
    if destination == "-":
        yield click.get_binary_stream("stdout")
        return
    final = Path(destination)
    partial = final.with_name(final.name + ".part")
    try:
        with partial.open("wb") as stream:
            yield stream
        partial.replace(final)
    except OSError as exc:
        raise CliError(f"cannot write {destination}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _export_progress(*, show: bool) -> Iterator[Any]:
    if not show:
        yield None
        return
    columns = (TextColumn("exporting"), BarColumn(), TextColumn("{task.completed:,} records"), TimeElapsedColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("exporting", total=None)
        yield lambda count: bar.update(task, completed=count)


# --- validate -----------------------------------------------------------------------


@commands.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE...")
@click.option("--lint", is_flag=True, help="Also check MARC21 content rules (warnings).")
@pass_cli
def validate(cli: CliContext, files: tuple[Path, ...], lint: bool) -> None:
    """Check MARC files without touching the database: structural errors per record, lint warnings, counts.

    Exit 0 when every record is sound (lint warnings are advice), 5 when some are not.

    \b
    Examples:
      ils-bridge marc validate books.mrc
      ils-bridge marc validate export.xml --lint
    """
    _check_files(files, None)
    _require_linter(lint)
    checker = Linter() if lint else None
    counts = {"records": 0, "valid": 0, "invalid": 0, "warnings": 0}
    failures: list[ImportFailure] = []
    warnings: list[LintWarnings] = []
    for path in files:
        for result in read_records(path):
            counts["records"] += 1
            if result.failure:
                f = result.failure
                failures.append(ImportFailure(str(path), f.number, f.offset, f.control_number, f.reason, f.detail))
                continue
            counts["valid"] += 1
            found = checker.check(result.record) if checker else []
            if found:
                warnings.append(LintWarnings(str(path), result.number, control_number(result.record), found))
    counts["invalid"] = len(failures)
    counts["warnings"] = sum(len(w.warnings) for w in warnings)
    document = {"files": [str(p) for p in files], **counts, "failures": [dataclasses.asdict(f) for f in failures],
                "lint": [dataclasses.asdict(w) for w in warnings]}
    emit(cli, document, lambda _: _print_validation(counts, failures, warnings))
    if failures:
        click.get_current_context().exit(EXIT_SOME_FAILED)


def _print_validation(counts: dict[str, int], failures: list[ImportFailure], warnings: list[LintWarnings]) -> None:
    print_problems(failures, warnings)
    summary = f"{counts['records']} records: {counts['valid']} valid, {counts['invalid']} invalid, " \
              f"{counts['warnings']} lint warnings"
    (warn if failures else done)(summary)

