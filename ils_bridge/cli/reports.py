"""`ils-bridge reports`: overdue loans, fines outstanding, the hold shelf, circulation counts.

Each report prints a table, or JSON with --json, and with --csv FILE also
writes its rows as CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from ils_bridge.app import Library
from ils_bridge.cli.charts import circulation_chart
from ils_bridge.cli.common import CliContext, CliError, Group, emit, pass_cli
from ils_bridge.cli.options import DATE, TIME, in_library_time, local_time
from ils_bridge.cli.tables import cell, done, print_table
from ils_bridge.services import reports

Columns = Sequence[tuple[str, str]]


@click.group("reports", cls=Group)
def commands() -> None:
    """Reports for staff: as tables, --json, or --csv FILE."""


def csv_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Also write the rows to this CSV file.")(command)


def show_report(cli: CliContext, library: Library, title: str, columns: Columns, rows: list[dict[str, Any]],
                csv_path: Path | None) -> None:
    rows = in_library_time(library, rows)
    if csv_path is not None:
        write_csv(csv_path, columns, rows)
    emit(cli, rows, lambda data: print_table(title, columns, data))
    if csv_path is not None and not cli.json:
        done(f"{len(rows)} rows written to {csv_path}")


def write_csv(path: Path, columns: Columns, rows: list[dict[str, Any]]) -> None:
    """The report's columns, headed by their row keys (stable names for spreadsheets and scripts)."""
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([key for _, key in columns])
            writer.writerows([[_csv_value(row.get(key)) for _, key in columns] for row in rows])
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


def _csv_value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return cell(value)


def _now(library: Library, at: dt.datetime | None) -> dt.datetime:
    return local_time(library, at) or library.app.clock.now()


@commands.command()
@click.option("--at", type=TIME, help="Overdue as of this time (default: now).")
@csv_option
@pass_cli
def overdue(cli: CliContext, at: dt.datetime | None, csv_path: Path | None) -> None:
    """Loans past their due time, most overdue first, with the borrower's contact.

    \b
    Examples:
      ils-bridge reports overdue
      ils-bridge reports overdue --csv overdue.csv
    """
    lib = cli.library()
    rows = reports.overdue(lib, _now(lib, at))
    show_report(cli, lib, "Overdue loans", [
        ("patron", "patron"), ("name", "name"), ("type", "patron_type"), ("item", "item"), ("title", "title"),
        ("due", "due"), ("days", "days_overdue"), ("recalled", "recalled"), ("email", "email"), ("phone", "phone")],
        rows, csv_path)


@commands.command()
@click.option("--min", "minimum", help="Only balances of at least this amount.")
@csv_option
@pass_cli
def fines(cli: CliContext, minimum: str | None, csv_path: Path | None) -> None:
    """Patrons who owe fees, largest balance first.

    \b
    Example:
      ils-bridge reports fines --min 10.00 --csv fines.csv
    """
    least = None
    if minimum is not None:
        try:
            least = Decimal(minimum)
        except ArithmeticError:
            raise CliError(f"--min: {minimum!r} is not an amount") from None
    lib = cli.library()
    rows = reports.fines_outstanding(lib, minimum=least)
    show_report(cli, lib, "Fines outstanding", [
        ("patron", "patron"), ("name", "name"), ("type", "patron_type"), ("owed", "owed"), ("currency", "currency"),
        ("since", "first_entry")], rows, csv_path)


@commands.command("hold-shelf")
@click.option("--date", "day", type=DATE, help="The day (default: today).")
@csv_option
@pass_cli
def hold_shelf(cli: CliContext, day: dt.date | None, csv_path: Path | None) -> None:
    """Copies to take off the hold shelf today: their pickup time is over.

    \b
    Example:
      ils-bridge reports hold-shelf --csv shelf.csv
    """
    lib = cli.library()
    day = day or _now(lib, None).astimezone(ZoneInfo(lib.record.timezone)).date()
    rows = reports.hold_shelf_to_clear(lib, day)
    show_report(cli, lib, f"Hold shelf to clear on {day}", [
        ("item", "item"), ("title", "title"), ("for patron", "patron"), ("last pickup day", "last_pickup_day"),
        ("location", "location"), ("call number", "call_number"), ("state", "state")], rows, csv_path)


@commands.command()
@click.option("--from", "start", type=DATE, required=True, help="First day counted.")
@click.option("--to", "end", type=DATE, required=True, help="Last day counted.")
@click.option("--period", type=click.Choice(reports.PERIODS), default="month", show_default=True)
@click.option("--op", "ops", multiple=True, type=click.Choice(reports.CIRCULATION_OPS),
              help="Count only these operations (repeatable; default: all three).")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the counts as a PNG chart (needs matplotlib).")
@csv_option
@pass_cli
def circulation(cli: CliContext, start: dt.date, end: dt.date, period: str, ops: tuple[str, ...],
                chart_path: Path | None, csv_path: Path | None) -> None:
    """Circulation counts per period by operation, patron type and material.

    \b
    Examples:
      ils-bridge reports circulation --from 2026-01-01 --to 2026-12-31
      ils-bridge reports circulation --from 2026-09-01 --to 2026-09-30 --period week --op checkout \\
          --chart september.png --csv september.csv
    """
    lib = cli.library()
    rows = reports.circulation_counts(lib, start, end, period=period, ops=ops or reports.CIRCULATION_OPS)
    if chart_path is not None:
        what = ", ".join(ops or reports.CIRCULATION_OPS)
        circulation_chart(rows, chart_path, title=f"{lib.record.name}: {what}, {start} to {end}")
    show_report(cli, lib, f"Circulation {start} to {end} by {period}", [
        ("period", "period"), ("operation", "op"), ("patron type", "patron_type"), ("material", "material"),
        ("count", "count")], rows, csv_path)
    if chart_path is not None and not cli.json:
        done(f"chart written to {chart_path}")
