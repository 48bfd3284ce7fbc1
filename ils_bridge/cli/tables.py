"""How staff commands look on a terminal: rich tables, coloured result lines, progress bars.

Everything is printed through a console made at call time, so it writes to
whatever stdout is then (click's test runner swaps it); colour appears only
on a real terminal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ils_bridge.outcome import Outcome

T = TypeVar("T")


def console(*, stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


def cell(value: Any) -> str:
    """One value as table text: dates in ISO, times to the minute, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    return str(value)


def print_table(title: str, columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, Any]], *,
                empty: str = "none") -> None:
    """``columns`` pairs a heading with the row key it shows."""
    rows = list(rows)
    out = console()
    if not rows:
        out.print(f"[bold]{escape(title)}[/bold]: {escape(empty)}")
        return
    table = Table(title=title, title_justify="left", header_style="bold cyan")
    for heading, _ in columns:
        table.add_column(heading, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell(row.get(key))) for _, key in columns))
    out.print(table)


def print_fields(title: str, fields: Sequence[tuple[str, Any]]) -> None:
    """A record as a two-column table of label and value."""
    table = Table(title=title, title_justify="left", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in fields:
        table.add_row(escape(label), escape(cell(value)))
    console().print(table)


def done(message: str) -> None:
    console().print(f"[green]✓[/green] {escape(message)}")


def warn(message: str) -> None:
    console().print(f"[yellow]![/yellow] {escape(message)}")


def describe(outcome: Outcome) -> str:
    """The rule, due time and fees of an outcome, as one clause for a result line."""
    parts = []
    if outcome.due:
        parts.append(f"due {outcome.due.strftime('%Y-%m-%d %H:%M')}")
    parts += [f"{fee.type} fee {fee.amount} {fee.currency}" for fee in outcome.fees]
    if outcome.rule:
        parts.append(f"rule {outcome.rule}")
    return "; ".join(parts)


def result(message: str, outcome: Outcome) -> None:
    details = describe(outcome)
    done(f"{message} ({details})" if details else message)


def progress(items: Sequence[T], label: str, *, show: bool) -> Iterator[T]:
    """Iterate, with a progress bar on stderr when ``show`` (long work on a terminal, not --json)."""
    if not show:
        yield from items
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=len(items))
        for item in items:
            yield item
            bar.advance(task)
