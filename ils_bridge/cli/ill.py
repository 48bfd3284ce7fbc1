"""`ils-bridge ill`: interlibrary loan and document delivery requests."""

from __future__ import annotations

import click

from ils_bridge.cli.common import CliContext, Group, emit, finish, pass_cli
from ils_bridge.cli.options import call_options, in_library_time
from ils_bridge.cli.tables import print_table, result
from ils_bridge.services import reports
from ils_bridge.services.ill import KINDS, TRANSITIONS


@click.group("ill", cls=Group)
def commands() -> None:
    """Interlibrary loan: requests and their states (new, sent, filled, delivered, ...)."""


@commands.command()
@click.argument("patron")
@click.argument("title")
@click.option("--kind", default="copy", show_default=True, help=f"What is wanted: {' or '.join(KINDS)}.")
@click.option("--field", help="Subject field of the document (decides the subsidy where the policy says).")
@pass_cli
def request(cli: CliContext, patron: str, title: str, kind: str, field: str | None) -> None:
    """Request a document from another library for a patron.

    \b
    Example:
      ils-bridge ill request 20230001 "Journal of Anatomy 2019;12:33-41" --kind copy --field medicine
    """
    lib = cli.library()
    finish(cli, lib.ill_request(patron, title, kind=kind, field=field, **call_options(lib)),
           lambda o: result(f"ILL request {o.data['request_id']} created", o))


def _update_help() -> str:
    lines = [f"  {state:<11} -> {', '.join(nexts) or '(final)'}" for state, nexts in TRANSITIONS.items()]
    return ("Move a request to its next STATE.\n\n\b\nStates and where each may go next:\n" + "\n".join(lines)
            + "\n\n\b\nExample:\n  ils-bridge ill update 12 sent --lender NLC\n"
            + "  ils-bridge ill update 12 filled --cost 30.00")


@commands.command(help=_update_help())
@click.argument("request_id", type=int)
@click.argument("state", metavar="STATE")
@click.option("--lender", help="The library that supplies it.")
@click.option("--cost", help="What the lender charged (when filled); the subsidy is decided from it.")
@click.option("--gateway-ref", help="The request's reference in the ILL gateway.")
@click.option("--note")
@pass_cli
def update(cli: CliContext, request_id: int, state: str, lender: str | None, cost: str | None,
           gateway_ref: str | None, note: str | None) -> None:
    lib = cli.library()
    out = lib.ill_update(request_id, state, lender=lender, cost=cost, gateway_ref=gateway_ref, note=note,
                         **call_options(lib))
    subsidy = out.data.get("subsidy")
    finish(cli, out, lambda o: result(f"ILL request {request_id} is now {state}"
                                      + (f", subsidy {subsidy}" if subsidy is not None else ""), o))


@commands.command("list")
@click.option("--state", help="Only requests in this state.")
@click.option("--patron", help="Only this patron's requests.")
@pass_cli
def list_requests(cli: CliContext, state: str | None, patron: str | None) -> None:
    """List ILL requests.

    \b
    Example:
      ils-bridge ill list --state sent
    """
    lib = cli.library()
    rows = in_library_time(lib, reports.ill_requests(lib, state=state, patron=patron))
    emit(cli, rows, lambda data: print_table("ILL requests", [
        ("id", "request_id"), ("patron", "patron"), ("title", "title"), ("kind", "kind"), ("state", "state"),
        ("lender", "lender"), ("cost", "cost"), ("subsidy", "subsidy"), ("updated", "updated_at")], data))
