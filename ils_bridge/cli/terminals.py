"""`ils-bridge terminals`: SIP2 terminal accounts (add, rotate-password, list, disable)."""

from __future__ import annotations

from typing import Any

import click
import yaml

from ils_bridge.cli.common import CliContext, CliError, Group, emit, pass_cli


def directory(cli: CliContext):
    from sip2_server.config import Sip2Settings
    from sip2_server.terminals import TerminalDirectory

    return TerminalDirectory(cli.app, Sip2Settings.from_file(cli.config).terminal_defaults)


def parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``name=value`` pairs; values are read as YAML (``true``, ``600``, ``[BE, BF]``, ``{main: A}``)."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--set takes name=value, not {pair!r}")
        try:
            settings[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise CliError(f"--set {name}: not a value: {exc}") from None
    return settings


def describe(terminal, enabled: bool = True) -> dict[str, Any]:
    return {"login": terminal.login, "library": terminal.library_code, "institution": terminal.institution_id,
            "kind": terminal.kind, "enabled": enabled, "allowed_ops": sorted(terminal.allowed_ops)}


@click.group(cls=Group)
def commands() -> None:
    """SIP2 terminal accounts: who may log in to the SIP2 server, to do what."""


commands.name = "terminals"

_password = click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                         help="The terminal's password (prompted when not given).")


@commands.command("add")
@click.argument("login")
@_password
@click.option("--institution", required=True, help="The institution id (AO) the terminal sends.")
@click.option("--kind", type=click.Choice(["selfcheck", "gate", "sorter", "staff"]), default="selfcheck", show_default=True)
@click.option("--op", "ops", multiple=True, metavar="ID", help="Allowed request id (repeat); default: the kind's.")
@click.option("--set", "pairs", multiple=True, metavar="NAME=VALUE", help="A terminal setting (repeat); see docs/sip2.md.")
@pass_cli
def add(cli: CliContext, login: str, password: str, institution: str, kind: str, ops: tuple[str, ...],
        pairs: tuple[str, ...]) -> None:
    """Add a terminal account to the library."""
    terminal = directory(cli).add(cli.library().code, login, password, institution_id=institution, kind=kind,
                                  allowed_ops=ops, settings=parse_settings(pairs))
    emit(cli, describe(terminal), lambda d: click.echo(f"added {d['login']} ({d['kind']}, {d['library']})"))


@commands.command("rotate-password")
@click.argument("login")
@_password
@pass_cli
def rotate_password(cli: CliContext, login: str, password: str) -> None:
    """Give a terminal a new password (its open sessions keep running; new logins need it)."""
    terminal = directory(cli).rotate_password(login, password)
    emit(cli, describe(terminal), lambda d: click.echo(f"password of {d['login']} changed"))


@commands.command("disable")
@click.argument("login")
@pass_cli
def disable(cli: CliContext, login: str) -> None:
    """Refuse further logins of a terminal."""
    terminal = directory(cli).disable(login)
    emit(cli, describe(terminal, False), lambda d: click.echo(f"{d['login']} disabled"))


@commands.command("list")
@click.option("--all-libraries", is_flag=True, help="Terminals of every library in the database.")
@pass_cli
def list_terminals(cli: CliContext, all_libraries: bool) -> None:
    """List terminal accounts."""
    code = None if all_libraries else cli.library().code
    rows = [describe(t, enabled) for t, enabled in directory(cli).list(code)]

    def render(data: list[dict[str, Any]]) -> None:
        for row in data:
            state = "enabled" if row["enabled"] else "disabled"
            click.echo(f"{row['login']:<20} {row['library']:<10} {row['institution']:<12} {row['kind']:<10} {state:<9} "
                       f"{' '.join(row['allowed_ops'])}")

    emit(cli, rows, render)
