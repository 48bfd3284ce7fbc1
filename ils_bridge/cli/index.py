"""`ils-bridge index`: the catalogue's search index (what SRU and Z39.50 search)."""

from __future__ import annotations

import click

from ils_bridge.cli.common import CliContext, Group, emit, pass_cli
from marc.search import open_index


@click.group(cls=Group)
def commands() -> None:
    """The search index behind the OPAC servers (kept current on every catalogue write)."""


commands.name = "index"


@commands.command("rebuild")
@pass_cli
def rebuild(cli: CliContext) -> None:
    """Re-index every live record of every library from scratch.

    Imports and title edits index themselves; run this after changing
    records behind the services' back (SQL, a restored backup) or after an
    upgrade that changes how records are indexed.

    \b
    Examples:
      ils-bridge index rebuild
      ils-bridge --json index rebuild
    """
    count = open_index(cli.app.db.engine).rebuild()
    emit(cli, {"indexed": count}, lambda data: click.echo(f"indexed {data['indexed']} record(s)"))
