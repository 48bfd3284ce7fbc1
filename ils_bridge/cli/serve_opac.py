"""`ils-bridge serve sru | z3950 | all`: the OPAC servers, reading the catalogue
index and live copy status of the library named by the global --library.

Both read circulation state through ``Library.availability`` (via
``marc.search.LibraryHoldings``) on every request and keep no copy of it; the
index is brought up to date with the catalogue when they start
(``SearchIndex.catch_up``) and kept current by the catalogue's record hook.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import click

from ils_bridge.cli.common import CliContext, pass_cli
from ils_bridge.cli.operations import (
    OperationsOptions,
    Prepared,
    operations_options,
    prepare,
)
from ils_bridge.cli.serve import (
    Running,
    commands,
    serve_until_stopped,
    sip2,
    tls_context,
)
from ils_bridge.ops.metrics import RequestMetrics
from marc.search import LibraryHoldings, SearchIndex, open_index

SRU_PORT = 8210
Z3950_PORT = 2100


class OpacSources:
    """What both OPAC servers read: the library's index and its live holdings."""

    def __init__(self, cli: CliContext) -> None:
        library = cli.library()
        self.engine = cli.app.db.engine
        self.title = library.record.name
        self.index: SearchIndex = open_index(self.engine, library.record.id)
        self.holdings = LibraryHoldings(library)
        caught_up = self.index.catch_up()
        if caught_up:
            click.echo(f"search index: {caught_up} record(s) brought up to date", err=True)


def sru(sources: OpacSources, host: str, port: int, database: str, metrics: RequestMetrics | None = None) -> Running:
    from marc.sru.server import SruServer

    server = SruServer(sources.engine, holdings=sources.holdings, host=host, port=port, database=database,
                       title=sources.title, index=sources.index, observer=metrics)
    return Running(f"SRU on http://{host}:{port}/{database}", server.start, server.stop)


def z3950(sources: OpacSources, host: str, port: int, database: str, metrics: RequestMetrics | None = None) -> Running:
    from marc.z3950.server import Z3950Server

    names = tuple(dict.fromkeys((database, "Default")))
    server = Z3950Server(sources.engine, holdings=sources.holdings, host=host, port=port, databases=names,
                         index=sources.index, observer=metrics)
    return Running(f"Z39.50 on {host}:{port}/{database}", server.start, server.stop)


def with_endpoint(prepared: Prepared, servers: list[Running]) -> list[Running]:
    """The health and metrics endpoint first, when --metrics-port asked for it."""
    if prepared.endpoint is None:
        return servers
    return [Running(f"health and metrics on port {prepared.endpoint.port}", prepared.start, prepared.close), *servers]


HOST = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")


@commands.command("sru")
@HOST
@click.option("--port", default=SRU_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--database-name", default="opac", show_default=True, help="Path of the SRU base URL.")
@operations_options
@pass_cli
def serve_sru(cli: CliContext, host: str, port: int, database_name: str, ops: OperationsOptions) -> None:
    """Serve SRU 1.2/2.0 (and DAIA availability) to OPACs and discovery layers.

    \b
    Examples:
      ils-bridge --library xuzhou serve sru --port 8210
      curl 'http://127.0.0.1:8210/opac?operation=searchRetrieve&version=1.2&query=dc.title=history'
    """
    prepared = prepare(cli, ops)
    serve_until_stopped(with_endpoint(prepared, [sru(OpacSources(cli), host, port, database_name, prepared.metrics)]))


@commands.command("z3950")
@HOST
@click.option("--port", default=Z3950_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--database-name", default="Default", show_default=True, help="Database name clients open.")
@operations_options
@pass_cli
def serve_z3950(cli: CliContext, host: str, port: int, database_name: str, ops: OperationsOptions) -> None:
    """Serve Z39.50 (Bib-1 searches; USMARC, MARCXML, SUTRS and OPAC records with holdings).

    \b
    Examples:
      ils-bridge --library xuzhou serve z3950 --port 2100
      yaz-client tcp:127.0.0.1:2100/Default
    """
    prepared = prepare(cli, ops)
    serve_until_stopped(with_endpoint(prepared, [z3950(OpacSources(cli), host, port, database_name, prepared.metrics)]))


@commands.command("all")
@HOST
@click.option("--sip2-port", default=6001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--sru-port", default=SRU_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--z3950-port", default=Z3950_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--database-name", default="opac", show_default=True, help="SRU path and Z39.50 database name.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="SIP2 PEM certificate.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="SIP2 PEM private key.")
@operations_options
@pass_cli
def serve_all(cli: CliContext, host: str, sip2_port: int, sru_port: int, z3950_port: int, database_name: str,
              tls_cert: Path | None, tls_key: Path | None, ops: OperationsOptions) -> None:
    """Serve SIP2, SRU and Z39.50 from one process on one database.

    \b
    Examples:
      ils-bridge --library xuzhou serve all --host 0.0.0.0
      ils-bridge --library xuzhou serve all --sip2-port 6001 --sru-port 8210 --z3950-port 2100
    """
    prepared = prepare(cli, ops)
    tls: ssl.SSLContext | None = tls_context(tls_cert, tls_key)
    sources = OpacSources(cli)
    serve_until_stopped(with_endpoint(prepared, [
        sip2(cli, host, sip2_port, tls, prepared.metrics),
        sru(sources, host, sru_port, database_name, prepared.metrics),
        z3950(sources, host, z3950_port, database_name, prepared.metrics),
    ]))
