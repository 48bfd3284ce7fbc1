"""`ils-bridge demo`: a ready demo library, served on localhost.

Two libraries from the example policies (Xuzhou, CNY; HCMC, VND) with
patrons, SIP2 terminal accounts and a MARC catalogue, then SIP2 for both,
and SRU and Z39.50 for each (consecutive ports), until Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import click
import platformdirs
from click.core import ParameterSource

from ils_bridge.app import App
from ils_bridge.cli.common import CliContext, Command, pass_cli
from ils_bridge.cli.serve import serve_until_stopped, sip2
from ils_bridge.cli.serve_opac import SRU_PORT, Z3950_PORT, OpacSources, sru, z3950
from ils_bridge.demo import CATALOGUES, DEMO_LOGINS, DEMO_PATRONS, barcodes, seed


def demo_database(cli: CliContext, fresh: bool) -> str:
    """The --database given, else a demo file of its own (so the demo never touches a real library)."""
    root = click.get_current_context().find_root()
    if root.get_parameter_source("database") in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
        return cli.database
    path = Path(platformdirs.user_data_dir("ils-bridge")) / "demo.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fresh:
        for leftover in path.parent.glob("demo.db*"):
            leftover.unlink()
    return f"sqlite:///{path}"


def print_guide(host: str, sip2_port: int, sru_port: int, z3950_port: int) -> None:
    click.echo(f"\nSIP2 (both libraries): {host}:{sip2_port}   terminal logins (CN / CO / institution AO):")
    for t in DEMO_LOGINS:
        click.echo(f"  {t.login:14} {t.password:11} {t.institution:8} {t.kind:10} library {t.library}")
    click.echo("Patrons (AA patron id, AD PIN):")
    for p in DEMO_PATRONS:
        click.echo(f"  {p.library:7} {p.number:9} PIN {p.pin}  {p.patron_type:14} {p.note}")
    click.echo("Item barcodes:")
    for n, (code, (_, titles, _)) in enumerate(CATALOGUES.items()):
        for title in titles:
            click.echo(f"  {code:7} {', '.join(barcodes('', title)):26} {title.material:22} {title.title}")
        click.echo(f"  {code:7} SRU    http://{host}:{sru_port + n}/{code}   Z39.50 {host}:{z3950_port + n}/{code}")
    click.echo("")


@click.command(name="demo", cls=Command)
@click.option("--fresh", is_flag=True, help="Start again from an empty demo database.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--sip2-port", default=6001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--sru-port", default=SRU_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="SRU of the first library; the next library gets the next port.")
@click.option("--z3950-port", default=Z3950_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-serve", is_flag=True, help="Create the demo database, print the guide, and stop.")
@pass_cli
def commands(cli: CliContext, fresh: bool, host: str, sip2_port: int, sru_port: int, z3950_port: int, no_serve: bool) -> None:
    """A ready demo library (two, in fact), served on localhost: SIP2, SRU and Z39.50.

    \b
    Examples:
      ils-bridge demo                 # seed (first time) and serve until Ctrl-C
      ils-bridge demo --fresh --no-serve
      ils-bridge --database sqlite:///mydemo.db demo --sip2-port 7001
    """
    cli = dataclasses.replace(cli, database=demo_database(cli, fresh), _app=None)
    app: App = cli.app
    app.db.create_schema()
    if not app.library_codes():
        for code, report in seed(app).items():
            click.echo(f"{code}: {report.added} records, {report.items_added} items imported", err=True)
    click.echo(f"demo database: {cli.database}", err=True)
    print_guide(host, sip2_port, sru_port, z3950_port)
    if no_serve:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    servers = [sip2(cli, host, sip2_port, None)]
    for n, code in enumerate(CATALOGUES):
        sources = OpacSources(dataclasses.replace(cli, library_code=code))
        servers += [sru(sources, host, sru_port + n, code), z3950(sources, host, z3950_port + n, code)]
    try:
        serve_until_stopped(servers)
    finally:
        app.close()
