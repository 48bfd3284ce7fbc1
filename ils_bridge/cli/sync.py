"""`ils-bridge sync`: bring the library up to date with the host platform.

- ``sync patrons``: import and update patrons and cards from the host, with a
  progress bar and a summary.  Incremental: each complete run stores the
  instant it started (table ``connector_state``, key
  ``patron_sync.changed_since``) and the next run asks only for what changed
  since; ``--full`` asks for everyone.  Patrons who left upstream but still
  hold loans or owe money are listed under "needs clearance".
- ``sync ill send [ID...]`` submits ``new`` ILL requests (all of them
  without IDs) to the regional gateway; ``sync ill poll`` records the
  gateway's answers through the ILL service (subsidy and notice on "filled").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ils_bridge.cli.common import EXIT_REFUSED, EXIT_UNAVAILABLE, CliContext, CliError, Group, emit, pass_cli
from ils_bridge.cli.connectors import connector_settings, console, host_errors, print_rows
from ils_bridge.connectors import ill_sync, state
from ils_bridge.connectors.factory import ill_gateway_from_config, patron_sync_from_config
from ils_bridge.connectors.http import ConnectorError
from ils_bridge.connectors.patron_sync import Progress as ProgressCallback
from ils_bridge.connectors.patron_sync import SyncReport, sync_patrons


@click.group(cls=Group)
def commands() -> None:
    """Bring the library up to date with the host platform (patrons, ILL)."""


commands.name = "sync"


# -- patrons --------------------------------------------------------------------------
@commands.command("patrons")
@click.option("--full", is_flag=True, help="Ask the host for every patron, not only those changed since the last run.")
@pass_cli
@host_errors
def patrons(cli: CliContext, full: bool) -> None:
    """Import and update patrons and cards from the host (incremental unless --full)."""
    library = cli.library()
    client, spec = patron_sync_from_config(connector_settings(cli))
    engine = library.app.db.engine
    since = None if full else state.read_watermark(engine, library.record.id)
    now = library.app.clock.now()
    with _progress_bar(show=not cli.json) as progress:
        report = sync_patrons(engine, library.record.id, client, spec, changed_since=since, now=now, progress=progress)
    if report.complete:
        state.write_watermark(engine, library.record.id, report.started_at, now)
    emit(cli, _summary(report, since), _render_summary)
    if not report.complete:
        raise CliError("the host failed during the run; what was read is applied, the next run starts from the "
                       "previous watermark again", EXIT_UNAVAILABLE)


@contextlib.contextmanager
def _progress_bar(*, show: bool) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr fed by the sync's progress callback (none with --json)."""
    if not show:
        yield None
        return
    columns = (TextColumn("patrons"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("patrons", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _summary(report: SyncReport, since: Any) -> dict[str, Any]:
    return {
        "changed_since": since,
        "complete": report.complete,
        "watermark": report.started_at if report.complete else since,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "cards_replaced": report.cards_replaced,
        "left": report.left,
        "needs_clearance": report.needs_clearance,
        "errors": [{"number": e.number, "message": e.message} for e in report.errors],
    }


def _render_summary(summary: dict[str, Any]) -> None:
    out = console()
    scope = f"changed since {summary['changed_since'].isoformat()}" if summary["changed_since"] else "full run"
    out.print(f"[bold]Patron sync[/bold] ({scope}): {summary['created']} created, {summary['updated']} updated, "
              f"{summary['unchanged']} unchanged, {summary['cards_replaced']} card(s) replaced, "
              f"{len(summary['left'])} left")
    if summary["needs_clearance"]:
        out.print(f"[yellow]Needs clearance[/yellow] (left upstream, still holding loans or owing money): "
                  f"{escape(', '.join(summary['needs_clearance']))}")
    if summary["errors"]:
        print_rows(f"{len(summary['errors'])} record(s) not applied", [("patron", "number"), ("error", "message")],
                   summary["errors"])


# -- ILL --------------------------------------------------------------------------------
@commands.group("ill")
def ill() -> None:
    """Exchange ILL requests with the regional gateway."""


@ill.command("send")
@click.argument("request_ids", nargs=-1, type=int)
@pass_cli
def ill_send(cli: CliContext, request_ids: tuple[int, ...]) -> None:
    """Submit new ILL requests (all new ones when no REQUEST_IDS are given)."""
    library = cli.library()
    gateway = ill_gateway_from_config(connector_settings(cli))
    rows, failed_unavailable, failed_state = [], 0, 0
    for request_id in request_ids or ill_sync.new_requests(library):
        try:
            rows.append({"request_id": request_id, "gateway_ref": ill_sync.send_request(library, request_id, gateway)})
        except ill_sync.IllStateError as exc:
            failed_state += 1
            rows.append({"request_id": request_id, "error": str(exc)})
        except ConnectorError as exc:
            failed_unavailable += 1
            rows.append({"request_id": request_id, "error": f"{type(exc).__name__}: {exc}"})
    emit(cli, rows, lambda r: print_rows("ILL requests sent", [("request", "request_id"), ("gateway ref", "gateway_ref"),
                                                              ("error", "error")], r))
    if failed_unavailable or failed_state:
        raise CliError(f"{failed_unavailable + failed_state} request(s) not sent",
                       EXIT_UNAVAILABLE if failed_unavailable else EXIT_REFUSED)


@ill.command("poll")
@pass_cli
def ill_poll(cli: CliContext) -> None:
    """Ask the gateway about every sent request and record what changed."""
    library = cli.library()
    report = ill_sync.poll_sent(library, ill_gateway_from_config(connector_settings(cli)))
    rows = [{"request_id": rid, "state": st, "subsidy": report.subsidies.get(rid)} for rid, st in report.changed.items()]
    rows += [{"request_id": rid, "state": "sent"} for rid in report.unchanged]
    rows += [{"request_id": rid, "error": error} for rid, error in report.errors.items()]
    emit(cli, rows, lambda r: print_rows("ILL requests polled", [("request", "request_id"), ("state", "state"),
                                                                ("subsidy", "subsidy"), ("error", "error")], r))
    if report.errors:
        raise CliError(f"{len(report.errors)} request(s) could not be brought up to date", EXIT_UNAVAILABLE)
