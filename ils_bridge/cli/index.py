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
    upgrade that changes how records are indexed.  The rebuilt index is then
    merged into as few pieces as possible (searches read every piece); the
    output gives the seconds that took.

    \b
    Examples:
      ils-bridge index rebuild
      ils-bridge --json index rebuild
    """
    index = open_index(cli.app.db.engine)
    count = index.rebuild()
    merge_seconds = index.merge_segments()
    emit(
        cli,
        {"indexed": count, "merge_seconds": round(merge_seconds, 3)},
        lambda data: click.echo(f"indexed {data['indexed']} record(s), merged the index in {data['merge_seconds']:.1f} s"),
    )
