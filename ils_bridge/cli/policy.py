"""`ils-bridge policy`: validate, show, explain, diff, simulate, apply, history, rollback."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console
from rich.table import Table

from ils_bridge.cli.common import EXIT_BAD_INPUT, CliContext, CliError, Group, emit, pass_cli, to_jsonable
from ils_bridge.simulation import ENGINES, scenario_from_library, simulate
from policies.diff import diff_policies, loan_outcome
from policies.loader import PolicyError, load_policy, load_policy_file
from policies.model import Policy

console = Console()


@click.group(cls=Group, name="policy")
def commands() -> None:
    """Check, explain, compare, try out and apply the circulation policy.

    \b
    Examples:
      ils-bridge policy validate policies/examples/xuzhou.yaml
      ils-bridge policy explain --patron 20230001 --item X0001
      ils-bridge policy simulate --policy new.yaml --events scenario.jsonl
      ils-bridge policy apply new.yaml --author "Li Na" --message "summer periods"
    """


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


@commands.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_cli
def validate(cli: CliContext, files: tuple[Path, ...]) -> None:
    """Check policy files; every problem is listed with its file, line and field.

    \b
    Example:  ils-bridge policy validate policies/examples/*.yaml
    """
    results, failed = [], False
    for path in files:
        try:
            policy = load_policy_file(path)
            results.append({"file": str(path), "ok": True, "library": policy.library.code, "problems": []})
        except PolicyError as exc:
            failed = True
            results.append({"file": str(path), "ok": False, "problems": [str(p) for p in exc.problems]})
    if cli.json:
        emit(cli, results)
    else:
        for result in results:
            if result["ok"]:
                click.echo(f"{result['file']}: ok (library {result['library']})")
            for problem in result["problems"]:
                click.echo(f"error: {problem}", err=True)
    if failed:
        sys.exit(EXIT_BAD_INPUT)


def _policy_from(cli: CliContext, file: Path | None) -> Policy:
    return load_policy(_read_file(file), str(file)) if file else cli.library().current_policy()


@commands.command()
@click.option("--file", "file", type=click.Path(path_type=Path), help="Show this file instead of the active policy.")
@pass_cli
def show(cli: CliContext, file: Path | None) -> None:
    """The active policy as readable tables: loan matrix, limits, fines and fees.

    \b
    Example:  ils-bridge policy show
    """
    policy = _policy_from(cli, file)
    matrix = _loan_matrix(policy)
    if cli.json:
        emit(cli, {"library": policy.library.code, "version": policy.version, "loan_matrix": matrix,
                   "limits": [{"id": l.id, "who": l.when.describe(), "counts": l.group, "max_items": l.max_items,
                               "max_value": l.max_value} for l in policy.limits],
                   "fines": [{"id": r.id, "when": r.when.describe(), "per_day": r.per_day, "flat": r.flat, "cap": r.cap}
                             for r in policy.fines.rules]})
        return
    console.print(f"[bold]{policy.library.name}[/bold] ({policy.library.code}, {policy.currency.code})"
                  + (f", policy version {policy.version}" if policy.version else ""))
    console.print(_table("Loans: patron type x material", ["patron type", "material", "class", "outcome"],
                         [[r["patron_type"], r["material"], r["class"] or "-", r["outcome"]] for r in matrix]))
    console.print(_table("Limits", ["id", "who", "counts", "max items", "max value"],
                         [[l.id, l.when.describe(), l.group, str(l.max_items or "-"), str(l.max_value or "-")] for l in policy.limits]))
    console.print(_table("Overdue fines", ["id", "when", "per day", "flat", "cap"],
                         [[r.id, r.when.describe(), str(r.per_day or "-"), str(r.flat or "-"), str(r.cap or "-")]
                          for r in policy.fines.rules]))
    console.print(_table("Lost items", ["id", "when", "multiple"],
                         [[r.id, r.when.describe(), str(r.multiple)] for r in policy.lost.rules]))
    if policy.packages:
        console.print(_table("Packages", ["code", "price", "days", "items", "value"],
                             [[p.code, str(p.price), str(p.valid_days), str(p.max_items), str(p.max_value or "-")]
                              for p in policy.packages.values()]))
    if len(policy.deposits.required):
        console.print(_table("Deposits", ["id", "when", "amount"],
                             [[r.id, r.when.describe(), str(r.amount)] for r in policy.deposits.required]))
    console.print(_table("Cards", ["kind", "fee", "valid days"],
                         [[k.kind, str(k.fee), str(k.validity_days or "set by staff")] for k in policy.cards.kinds.values()]))


def _loan_matrix(policy: Policy) -> list[dict[str, Any]]:
    rows = []
    classes = [None, *policy.vocabulary.get("classes", ())]
    for patron_type in policy.vocabulary["patron_types"]:
        for material in policy.vocabulary["materials"]:
            for item_class in classes:
                patron = {"patron_type": patron_type, "package": next(iter(policy.packages), None)}
                outcome = loan_outcome(policy, patron, {"material": material, "class": item_class, "copies": 99})
                rows.append({"patron_type": patron_type, "material": material, "class": item_class, "outcome": outcome})
    return rows


def _table(title: str, headers: list[str], rows: Iterable[list[str]]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold cyan")
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    return table


@commands.command()
@click.option("--patron", required=True, help="Patron number or card number.")
@click.option("--item", required=True, help="Item barcode.")
@click.option("--action", type=click.Choice(["checkout", "renew", "hold"]), default="checkout", show_default=True)
@pass_cli
def explain(cli: CliContext, patron: str, item: str, action: str) -> None:
    """The decision the policy would make now, and the rules behind it. Nothing is written.

    \b
    Example:  ils-bridge policy explain --patron 20230001 --item X0001 --action renew
    """
    result = cli.library().explain(patron, item, action)
    if cli.json:
        emit(cli, result)
        return
    verdict = "[green]allowed[/green]" if result["ok"] else f"[red]refused: {result['reason']}[/red]"
    console.print(f"{action} of {item} by {patron}: {verdict}" + (f", due {result['due']}" if result["due"] else "")
                  + f"  (policy version {result['policy_version']}, decided by {result['rule']})")
    console.print("patron: " + ", ".join(f"{k}={v}" for k, v in result["patron"].items() if v is not None))
    console.print("item:   " + ", ".join(f"{k}={v}" for k, v in result["item"].items() if v is not None)
                  + (f"  (class from rule {result['class_rule']})" if result["class_rule"] else ""))
    for step in result["steps"]:
        mark = {"pass": "[green]✓[/green]", "refuse": "[red]✗[/red]"}.get(step["verdict"], "•")
        console.print(f"  {mark} {step['rule']}: {step['detail']}")


@commands.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@pass_cli
def diff(cli: CliContext, old: Path, new: Path) -> None:
    """Rules changed between two policy files, and which patron/material combinations change outcome.

    \b
    Example:  ils-bridge policy diff current.yaml proposed.yaml
    """
    result = diff_policies(load_policy(_read_file(old), str(old)), load_policy(_read_file(new), str(new)))
    if cli.json:
        emit(cli, {"rules": [r.__dict__ for r in result.rules], "outcomes": [o.__dict__ for o in result.outcomes]})
        return
    if result.empty:
        click.echo("no differences")
        return
    console.print(_table("Rules", ["section", "rule", "change", "before", "after"],
                         [[r.section, r.rule, r.change, r.before or "-", r.after or "-"] for r in result.rules]))
    console.print(_table(f"Outcomes that change ({len(result.outcomes)})", ["patron", "item", "before", "after"],
                         [[_facts(o.patron), _facts(o.item), o.before, o.after] for o in result.outcomes]))


def _facts(facts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in facts.items())


@commands.command(name="simulate")
@click.option("--policy", "policy_file", required=True, type=click.Path(path_type=Path), help="The policy to try.")
@click.option("--events", "events_file", type=click.Path(path_type=Path),
              help="Scenario: JSON lines (see docs/simulation.md); - for standard input.")
@click.option("--recent", "recent_days", type=click.IntRange(1, 3660), metavar="DAYS",
              help="Instead of --events: the library's own checkouts, checkins and renewals of the last DAYS days, "
                   "compared with the active policy (unless --compare names another).")
@click.option("--compare", "compare_file", type=click.Path(path_type=Path),
              help="Also replay under this policy and print only the events whose outcome differs.")
@click.option("--engine", type=click.Choice(ENGINES), default="auto", show_default=True,
              help="memory: fast, for the ops it mirrors; sql: the real services, every op; auto: memory when it can.")
@pass_cli
def simulate_command(cli: CliContext, policy_file: Path, events_file: Path | None, recent_days: int | None,
                     compare_file: Path | None, engine: str) -> None:
    """Replay a scenario against a policy in a fresh in-memory library; one JSON line per event.

    \b
    Examples:
      ils-bridge policy simulate --policy policies/examples/xuzhou.yaml --events policies/scenarios/xuzhou-vacation.jsonl
      ils-bridge policy simulate --policy new.yaml --compare current.yaml --events last-month.jsonl
      ils-bridge policy simulate --policy new.yaml --recent 30      # last month's transactions, vs the active policy
    """
    if (events_file is None) == (recent_days is None):
        raise CliError("give either --events FILE or --recent DAYS")
    policy_text = _read_file(policy_file)
    load_policy(policy_text, str(policy_file))
    other_text = _read_file(compare_file) if compare_file else None
    lines: list[str] | None = None  # the scenario's lines when they cannot be read from a file for each replay
    if recent_days is not None:
        lib = cli.library()
        lines = scenario_from_library(lib, lib.app.clock.now() - dt.timedelta(days=recent_days))
        other_text = other_text or lib.current_policy().source
    with ExitStack() as files:
        def scenario() -> Iterable[str]:
            """The scenario for one replay: an events file is opened for each, so its lines are never all kept."""
            if lines is not None:
                return lines
            return files.enter_context(_open_text(events_file))

        try:
            if str(events_file) == "-":
                lines = sys.stdin.read().splitlines()  # standard input can be read only once; a replay may read it again
            _print_simulation(policy_text, other_text, compare_file, scenario, engine)
        except UnicodeDecodeError as exc:
            raise CliError(f"cannot read {events_file}: {exc}") from None


def _open_text(path: Path) -> TextIO:
    try:
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


def _print_simulation(policy_text: str, other_text: str | None, compare_file: Path | None,
                      scenario: Callable[[], Iterable[str]], engine: str) -> None:
    """One JSON line per event; with a policy to compare, only the events whose outcome differs, and a count."""
    try:
        results = simulate(policy_text, scenario(), engine)
    except ValueError as exc:  # the memory engine was asked for a scenario it does not mirror
        raise CliError(str(exc)) from None
    if other_text is None:
        for result in results:
            click.echo(json.dumps(to_jsonable(result), ensure_ascii=False))
        return
    load_policy(other_text, str(compare_file or "active policy"))
    changed = events = 0
    # Both replays check the same events, so with --engine auto they move to the SQL engine at the same line.
    for events, (mine, theirs) in enumerate(zip(results, simulate(other_text, scenario(), engine)), start=1):
        if mine != theirs:
            changed += 1
            click.echo(json.dumps({"event": events, "with_policy": mine, "with_compare": theirs}, ensure_ascii=False))
    click.echo(f"{changed} of {events} event(s) change outcome ({results.engine} engine)", err=True)


@commands.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--author", required=True, help="Who applies it (kept in the history).")
@click.option("--message", required=True, help="Why (kept in the history).")
@pass_cli
def apply(cli: CliContext, file: Path, author: str, message: str) -> None:
    """Validate and activate a policy file as a new version; running loans keep their terms.

    \b
    Example:  ils-bridge policy apply new.yaml --author "Li Na" --message "longer NS loans"
    """
    version = cli.library().apply_policy(_read_file(file), author=author, message=message, filename=str(file))
    emit(cli, {"version": version}, lambda d: click.echo(f"policy version {d['version']} is now active"))


@commands.command()
@pass_cli
def history(cli: CliContext) -> None:
    """Every version applied: who, when, why.

    \b
    Example:  ils-bridge policy history
    """
    rows = cli.library().policy_history()
    emit(cli, rows, lambda rows: console.print(_table("Policy history", ["version", "applied", "author", "message", "active"], [
        [str(r["version"]), r["applied_at"].isoformat(timespec="seconds"), r["author"], r["message"], "yes" if r["active"] else ""]
        for r in rows])))


@commands.command()
@click.argument("version", type=int)
@click.option("--author", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def rollback(cli: CliContext, version: int, author: str, yes: bool) -> None:
    """Re-apply an earlier version (as a new version: history is never rewritten).

    \b
    Example:  ils-bridge policy rollback 3 --author "Li Na" --yes
    """
    lib = cli.library()
    lib.policy_document(version)
    if not yes and not click.confirm(f"Make policy version {version} active again?"):
        raise click.Abort()
    new_version = lib.rollback_policy(version, author=author)
    emit(cli, {"version": new_version, "from": version},
         lambda d: click.echo(f"policy version {d['version']} (a copy of {d['from']}) is now active"))
