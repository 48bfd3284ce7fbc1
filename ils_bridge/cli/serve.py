"""`ils-bridge serve`: run the protocol servers until SIGINT/SIGTERM, then shut them down gracefully.

Each server is a small function that builds it from the CLI context and its
options and returns a :class:`Running` (something with async ``start`` and
``close``); :func:`serve_until_stopped` runs any number of them, so ``serve
all`` is one more command calling it with several.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import click

from ils_bridge import event_loop
from ils_bridge.cli.common import CliContext, CliError, Group, pass_cli
from ils_bridge.cli.operations import OperationsOptions, operations_options, prepare
from ils_bridge.ops.metrics import RequestMetrics

log = logging.getLogger("ils_bridge.serve")


@dataclass
class Running:
    """A server to run: how to start it, how to stop it (finishing what is in flight), and its name for logs."""

    name: str
    start: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]


def serve_until_stopped(servers: Sequence[Running]) -> None:
    """Start every server, wait for SIGINT or SIGTERM, then close them all (on uvloop when it is installed)."""
    event_loop.run(_serve(servers))


async def _serve(servers: Sequence[Running]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started: list[Running] = []
    try:
        for server in servers:
            await server.start()
            started.append(server)
            click.echo(f"{server.name}: serving (Ctrl-C to stop)", err=True)
        await stop.wait()
    finally:
        for server in reversed(started):
            await server.close()
            click.echo(f"{server.name}: stopped", err=True)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None:
        raise CliError("--tls-key needs --tls-cert")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def sip2(cli: CliContext, host: str, port: int, tls: ssl.SSLContext | None,
         metrics: RequestMetrics | None = None) -> Running:
    """The SIP2 server on the CLI's database, with the ``sip2:`` (and ``connectors.campus_auth``) settings."""
    from ils_bridge.connectors.config import load_connectors_config
    from ils_bridge.connectors.factory import campus_auth_from_config
    from sip2_server.app import create_server
    from sip2_server.backend import Backend
    from sip2_server.config import Sip2Settings

    settings = Sip2Settings.from_file(cli.config)
    if cli.pool_size is not None:  # one service thread per pooled connection
        settings = replace(settings, workers=cli.pool_size)
    connectors = load_connectors_config(cli.config) if cli.config else {}
    campus = campus_auth_from_config(connectors) if "campus_auth" in connectors else None
    if settings.patron_auth == "campus" and campus is None:
        raise CliError("sip2.patron_auth is campus but the config has no connectors.campus_auth section")
    fallback = str((connectors.get("campus_auth") or {}).get("fallback", "refuse"))
    backend = Backend(cli.app, settings, campus_auth=campus, campus_fallback=fallback)
    server, _ = create_server(cli.app, host=host, port=port, tls=tls, backend=backend, observer=metrics)

    async def close() -> None:
        await server.close()
        backend.close()

    return Running(f"SIP2 on {host}:{port}{' (TLS)' if tls else ''}", server.start, close)


@click.group(cls=Group)
def commands() -> None:
    """Run the protocol servers (SIP2, ...) until interrupted."""


commands.name = "serve"


@commands.command("sip2")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=6001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM certificate (chain).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM private key.")
@operations_options
@pass_cli
def serve_sip2(cli: CliContext, host: str, port: int, tls_cert: Path | None, tls_key: Path | None,
               ops: OperationsOptions) -> None:
    """Serve SIP2 to self-check machines, gates and sorters (terminal accounts: `ils-bridge terminals`)."""
    prepared = prepare(cli, ops)
    servers = [sip2(cli, host, port, tls_context(tls_cert, tls_key), prepared.metrics)]
    if prepared.endpoint is not None:
        servers.insert(0, Running(f"health and metrics on port {prepared.endpoint.port}", prepared.start, prepared.close))
    serve_until_stopped(servers)


# The OPAC servers (serve sru / z3950 / all) are in their own module, which adds them to this group.
from ils_bridge.cli import serve_opac  # noqa: E402,F401
