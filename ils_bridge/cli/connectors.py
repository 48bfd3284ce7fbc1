"""`ils-bridge connectors check`, and what the connector commands share: settings and error handling.

Connector settings are the ``connectors:`` section of the ``--config FILE``
(YAML or TOML) plus ``ILS_BRIDGE_CONNECTORS__...`` environment overrides; see
docs/connectors.md.  A host that cannot be reached exits 4 (unavailable), a
missing or wrong setting exits 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ils_bridge.cli.common import EXIT_BAD_INPUT, EXIT_UNAVAILABLE, CliContext, CliError, Group, emit, pass_cli
from ils_bridge.connectors.config import load_connectors_config
from ils_bridge.connectors.factory import check_all
from ils_bridge.connectors.http import ConnectorError


def connector_settings(cli: CliContext) -> dict[str, Any]:
    """The ``connectors:`` settings of ``--config`` (environment overrides applied)."""
    return load_connectors_config(cli.config)


def host_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A host that fails (after the connector's retries) is exit 4 with the masked reason."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConnectorError as exc:
            raise CliError(f"{type(exc).__name__}: {exc}", EXIT_UNAVAILABLE) from None

    return wrapper


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout (click's test runner swaps it); colour only on a terminal."""
    return Console(stderr=stderr, highlight=False)


def print_rows(title: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
    """A table of ``rows``; ``columns`` pairs each heading with the key it shows."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for heading, _ in columns:
        table.add_column(heading, overflow="fold")
    for row in rows:
        table.add_row(*(escape("" if row.get(key) is None else str(row.get(key))) for _, key in columns))
    console().print(table)


@click.group(cls=Group)
def commands() -> None:
    """The host-platform connectors: patron sync, campus-card login, notice and ILL gateways."""


commands.name = "connectors"


@commands.command("check")
@pass_cli
def check(cli: CliContext) -> None:
    """Check every configured connector (reachable, answering as agreed); exit 4 if any fails."""
    settings = connector_settings(cli)
    if not settings:
        raise CliError("no connectors are configured: give --config FILE with a 'connectors:' section", EXIT_BAD_INPUT)
    results = check_all(settings)
    emit(cli, [result.__dict__ for result in results], _render_checks)
    failed = [r.connector for r in results if not r.ok]
    if failed:
        raise CliError(f"{len(failed)} connector(s) failed: {', '.join(failed)}", EXIT_UNAVAILABLE)


def _render_checks(rows: list[dict[str, Any]]) -> None:
    print_rows("Connectors", [("connector", "connector"), ("url", "url"), ("ok", "ok"), ("detail", "detail")],
               [{**row, "ok": "yes" if row["ok"] else "NO"} for row in rows])

