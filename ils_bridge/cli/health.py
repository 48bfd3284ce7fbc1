"""`ils-bridge health`: is this deployment's database reachable, at the newest schema, with active policies?

Exit code 0 when every check passes, 4 (unavailable) when one fails; the
checks are printed one per line, or as one JSON document with ``--json``.
Meant for deploy scripts and cron, next to the serving processes' /readyz.
"""

from __future__ import annotations

import json
import sys

import click

from ils_bridge.cli.common import EXIT_UNAVAILABLE, CliContext, Command, pass_cli
from ils_bridge.ops.health import check_health


@click.command("health", cls=Command)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (same as the global --json).")
@pass_cli
def commands(cli: CliContext, as_json: bool) -> None:
    """Check the database: reachable, schema revision at head, one active policy per library.

    \b
    Examples:
      ils-bridge --database postgresql://ils@db/ils health
      ils-bridge health --json      # {"ok": true, "checks": [...]}
    """
    report = check_health(cli.app.db)
    if as_json or cli.json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for check in report.checks:
            click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    if not report.ok:
        sys.exit(EXIT_UNAVAILABLE)
