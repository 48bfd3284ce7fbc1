"""The ``ils-bridge`` command: global options, then one command group per concern.

Each concern lives in its own module under ``ils_bridge/cli/`` and is listed
in ``COMMAND_MODULES``; a module exposes ``commands`` (a click command or
group) registered here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from ils_bridge.cli.common import CliContext, Group, default_database_url

COMMAND_MODULES = (
    "ils_bridge.cli.policy",
    "ils_bridge.cli.serve",
    "ils_bridge.cli.index",
    "ils_bridge.cli.terminals",
    "ils_bridge.cli.setup",
    "ils_bridge.cli.patrons",
    "ils_bridge.cli.cards",
    "ils_bridge.cli.desk",
    "ils_bridge.cli.fees",
    "ils_bridge.cli.deposits",
    "ils_bridge.cli.packages",
    "ils_bridge.cli.ill",
    "ils_bridge.cli.calendar",
    "ils_bridge.cli.jobs",
    "ils_bridge.cli.items",
    "ils_bridge.cli.reports",
    "ils_bridge.cli.connectors",
    "ils_bridge.cli.sync",
    "ils_bridge.cli.notices",
    "ils_bridge.cli.health",
    "ils_bridge.cli.demo",
    "ils_bridge.cli.marc",
)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--database", "database", envvar="ILS_BRIDGE_DATABASE", default=None, metavar="URL",
              help="Database URL: sqlite:///FILE or postgresql://USER@HOST/DB "
                   "(env ILS_BRIDGE_DATABASE; default a SQLite file in your data directory).")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), envvar="ILS_BRIDGE_CONFIG",
              help="Settings file for connectors and servers (env ILS_BRIDGE_CONFIG).")
@click.option("--library", "library_code", envvar="ILS_BRIDGE_LIBRARY", metavar="CODE",
              help="Which library, when the database holds more than one (env ILS_BRIDGE_LIBRARY).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables (for scripts).")
@click.version_option(package_name="ils-bridge")
@click.pass_context
def cli(ctx: click.Context, database: str | None, config: Path | None, library_code: str | None, as_json: bool) -> None:
    """ils-bridge: circulation, cards and fees for libraries, behind SIP2, SRU, Z39.50 and this CLI.

    \b
    Examples:
      ils-bridge demo                       # a ready demo library, served on localhost
      ils-bridge policy validate my.yaml    # check a policy file
      ils-bridge --json desk checkout 20230001 X0001
    """
    state = CliContext(database or default_database_url(), config, as_json, library_code)
    ctx.obj = state
    ctx.call_on_close(state.close)


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(_name).commands)

