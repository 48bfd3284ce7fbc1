"""`ils-bridge notices`: deliver queued patron notices (for cron), list and retry the dead letters.

Notices are queued by circulation events and by the daily jobs; ``notices run``
sends every notice that is due, in all libraries of the database, through the
gateways under ``connectors.notices`` of ``--config``.
"""

from __future__ import annotations

from typing import Any

import click

from ils_bridge.cli.common import EXIT_NOT_FOUND, CliContext, CliError, Group, emit, pass_cli
from ils_bridge.cli.connectors import connector_settings, console, print_rows
from ils_bridge.connectors.config import section
from ils_bridge.connectors.notices import (
    DeliveryPolicy,
    TemplateCatalogue,
    deliver_due,
    gateways_from_config,
    list_dead,
    retry_dead,
)


@click.group(cls=Group)
def commands() -> None:
    """Patron notices: deliver the due ones, list and retry those that failed for good."""


commands.name = "notices"


@commands.command("run")
@pass_cli
def run(cli: CliContext) -> None:
    """Send every due notice now (run it from cron every few minutes)."""
    settings = section(connector_settings(cli), "notices")
    report = deliver_due(
        cli.app.db.engine,
        cli.app.clock.now(),
        gateways=gateways_from_config(settings),
        templates=TemplateCatalogue(settings.get("templates_dir")),
        policy=DeliveryPolicy.from_mapping(settings),
    )
    summary = {"sent": len(report.sent), "retrying": len(report.retrying), "dead": report.dead,
               "gave_up_stale": report.gave_up_stale}
    emit(cli, summary, _render_run)


def _render_run(summary: dict[str, Any]) -> None:
    line = f"{summary['sent']} sent, {summary['retrying']} to retry later, {len(summary['dead'])} dead"
    if summary["gave_up_stale"]:
        line += f" ({summary['gave_up_stale']} given up after their worker stopped)"
    console().print(line)
    if summary["dead"]:
        console().print(f"dead: {', '.join(map(str, summary['dead']))}; see `ils-bridge notices dead`")


@commands.command("dead")
@pass_cli
def dead(cli: CliContext) -> None:
    """List the notices that will not be sent unless retried (of --library, else of every library)."""
    library_id = cli.library().record.id if cli.library_code else None
    rows = [_dead_row(row) for row in list_dead(cli.app.db.engine, library_id)]
    emit(cli, rows, _render_dead)


def _dead_row(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "library_id", "patron_id", "kind", "channel", "attempts", "last_error", "created_at")
    return {key: row[key] for key in keys}


def _render_dead(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console().print("no dead notices")
        return
    print_rows("Dead notices", [("id", "id"), ("patron", "patron_id"), ("kind", "kind"), ("channel", "channel"),
                                ("attempts", "attempts"), ("last error", "last_error")], rows)


@commands.command("retry")
@click.argument("notice_ids", nargs=-1, type=int, required=True)
@pass_cli
def retry(cli: CliContext, notice_ids: tuple[int, ...]) -> None:
    """Give dead notices a fresh set of attempts, due now."""
    engine = cli.app.db.engine
    dead_ids = {row["id"] for row in list_dead(engine)}
    wanted = list(dict.fromkeys(notice_ids))
    retried = [i for i in wanted if i in dead_ids]
    retry_dead(engine, retried, cli.app.clock.now())
    not_dead = [i for i in wanted if i not in dead_ids]
    emit(cli, {"retried": retried, "not_dead": not_dead},
         lambda s: console().print(f"{len(s['retried'])} notice(s) pending again"))
    if not_dead:
        raise CliError(f"not dead notices: {', '.join(map(str, not_dead))}", EXIT_NOT_FOUND)
