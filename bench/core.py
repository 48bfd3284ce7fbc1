"""Circulation core benchmark: prints figures and ratios, asserts nothing.

    python bench/core.py [--decisions N] [--events N] [--loans N]

1. Policy decision time: `decide_checkout` for a PhD with 20 loans out at
   Xuzhou (matching, limits, due date).  Target < 50 us per decision.
2. Simulation throughput: a generated Xuzhou scenario (checkouts, renewals,
   checkins, ticks) replayed by `policy simulate` (the memory engine), and a
   small run of the SQL engine as the baseline.  Target: 1M events < 10 s,
   i.e. >= 100,000 events/s.
3. Checkout + checkin through the service layer (one transaction each, on a
   SQLite file) against a bare SQLite insert + update of the same rows: the
   rows the service writes (the loan, the item, and the audit-log row each
   call writes) in the same database (its tables, indexes and foreign keys),
   with nothing else.  The same without the audit-log rows (the baseline
   before 2026-11-23) and the loan and item writes on a bare two-table
   schema are printed for reference.  All run in alternating blocks in the
   same run; wall-clock and CPU ratios are printed (CPU holds better on a
   busy machine).  Target ratio <= 3x.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ils_bridge.app import App  # noqa: E402
from ils_bridge.calendar import LibraryCalendar  # noqa: E402
from ils_bridge.clock import SettableClock  # noqa: E402
from ils_bridge.simulation import simulate  # noqa: E402
from policies.decisions import Account, CurrentLoan, classify, decide_checkout  # noqa: E402
from policies.loader import load_policy_file  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "policies" / "examples"
TZ = ZoneInfo("Asia/Shanghai")


def bench_decisions(n: int) -> float:
    policy = load_policy_file(EXAMPLES / "xuzhou.yaml")
    calendar = LibraryCalendar("Asia/Shanghai", policy.calendar.weekly_closed, list(policy.calendar.closures))
    loans = [CurrentLoan(classify(policy, {"material": "zh_book", "classification": "R44" if i % 2 else "D61"}), Decimal("30"))
             for i in range(20)]
    account = Account(patron={"patron_type": "phd"}, loans=loans)
    item = classify(policy, {"material": "zh_book", "classification": "R44", "copies": 3})
    today = dt.date(2026, 3, 2)
    start = time.perf_counter()
    for _ in range(n):
        decision = decide_checkout(policy, calendar, account, item, Decimal("30"), today)
    elapsed = time.perf_counter() - start
    assert decision.ok
    return elapsed / n * 1e6


def scenario(n_events: int) -> list[str]:
    """Patrons and items, then rounds of checkout / renew / checkin (some late) / pay."""
    lines = []
    t0 = dt.datetime(2026, 3, 2, 9, tzinfo=TZ)
    patrons, items = 200, 400
    for p in range(patrons):
        lines.append(json.dumps({"op": "patron", "at": t0.isoformat(), "id": f"P{p}", "type": "undergraduate"}))
    for i in range(items):
        lines.append(json.dumps({"op": "item", "at": t0.isoformat(), "barcode": f"I{i}", "title": f"t{i // 2}",
                                 "material": "zh_book", "classification": "R44" if i % 3 else "D61", "price": "30.00",
                                 "pub_year": 2010}))
    day = 0
    while len(lines) < n_events:
        day += 1
        now = t0 + dt.timedelta(days=day)
        for i in range(0, items, 2):
            patron = f"P{(i + day) % patrons}"
            lines.append(json.dumps({"op": "checkout", "at": now.isoformat(), "patron": patron, "item": f"I{i}"}))
            lines.append(json.dumps({"op": "renew", "at": (now + dt.timedelta(hours=1)).isoformat(), "patron": patron, "item": f"I{i}"}))
            lines.append(json.dumps({"op": "checkin", "at": (now + dt.timedelta(hours=2)).isoformat(), "item": f"I{i}"}))
        lines.append(json.dumps({"op": "tick", "at": (now + dt.timedelta(hours=3)).isoformat()}))
    return lines[:n_events]


def bench_simulation(n: int, engine: str = "auto") -> tuple[float, float, str]:
    """Events per second of wall time and of this process's CPU time (the figure a busy machine disturbs
    least), replaying the generated scenario with parsing included; and the engine that ran it."""
    events = scenario(n)
    policy = (EXAMPLES / "xuzhou.yaml").read_text(encoding="utf-8")
    start, cpu = time.perf_counter(), time.process_time()
    replay = simulate(policy, events, engine)
    results = sum(1 for _ in replay)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert results == len(events)
    return len(events) / elapsed, len(events) / cpu, replay.engine


@dataclass
class LoanTimings:
    """Seconds per checkout+checkin pair, wall clock and CPU, one entry per block of pairs."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def measure(self, run_block: Callable[[int], None], pairs: int) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        run_block(pairs)
        self.wall.append((time.perf_counter() - wall) / pairs)
        self.cpu.append((time.process_time() - cpu) / pairs)


def service_loans(workdir: Path) -> tuple[Callable[[int], None], App]:
    """Pairs through the service facade, the patron named by card number as a terminal names them."""
    clock = SettableClock(dt.datetime(2026, 3, 2, 9, tzinfo=TZ))
    app = App.open(f"sqlite:///{workdir / 'service.db'}", clock, create=True)
    lib = app.create_library((EXAMPLES / "xuzhou.yaml").read_text(encoding="utf-8"), author="bench")
    lib.register_patron("P1", "Bench", "phd")
    lib.issue_card("P1", "C1", valid_until=dt.date(2030, 1, 1))
    title = lib.add_title("Bench title").data["title_id"]
    for i in range(2):
        lib.add_item(f"I{i}", title, "zh_book", classification="R44", price="30.00")

    def run(pairs: int) -> None:
        for _ in range(pairs):
            assert lib.checkout("C1", "I0").ok
            assert lib.checkin("I0").ok

    return run, app


def bare_same_rows(db_file: Path, *, audit: bool) -> tuple[Callable[[int], None], sqlite3.Connection]:
    """The floor the target is measured against: the rows the service writes, written bare in the service's own
    database (same tables, indexes and foreign keys), two transactions, nothing else: the loan row inserted and
    closed, the item row updated twice and, with ``audit``, the transaction-log row each call writes."""
    conn = sqlite3.connect(db_file, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    # Checkpoints of the shared file are the service's Checkpointer thread's (storage/checkpoints.py), for both
    # set-ups: neither pays one inside its commits.
    conn.execute("PRAGMA wal_autocheckpoint=0")
    library, patron, card = conn.execute("SELECT library_id, patron_id, id FROM cards").fetchone()
    item = conn.execute("SELECT id FROM items WHERE barcode = 'I1'").fetchone()[0]
    loan_row = conn.execute("SELECT checked_out_at, due_at, policy_version, rule_id, terms FROM loans LIMIT 1").fetchone()
    log_row = conn.execute("SELECT at, patron_id, ok, rule_id, policy_version FROM transactions "
                           "WHERE op = 'checkout' LIMIT 1").fetchone()

    def log(op: str) -> None:
        if audit:
            conn.execute("INSERT INTO transactions (library_id, at, op, patron_id, item_id, ok, reason, rule_id, "
                         "policy_version, terminal, detail) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL)",
                         (library, log_row[0], op, log_row[1], item, *log_row[2:]))

    def run(pairs: int) -> None:
        for _ in range(pairs):
            conn.execute("BEGIN IMMEDIATE")
            loan = conn.execute(
                "INSERT INTO loans (library_id, item_id, patron_id, card_id, checked_out_at, due_at, status, renewals, "
                "first_reader, policy_version, rule_id, terms, terminal) VALUES (?, ?, ?, ?, ?, ?, 'active', 0, 0, ?, ?, ?, NULL)",
                (library, item, patron, card, *loan_row)).lastrowid
            conn.execute("UPDATE items SET status = 'checked_out', times_loaned = times_loaned + 1, updated_at = ? WHERE id = ?",
                         (loan_row[0], item))
            log("checkout")
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE loans SET status = 'returned', returned_at = ? WHERE id = ?", (loan_row[0], loan))
            conn.execute("UPDATE items SET status = 'available', updated_at = ? WHERE id = ?", (loan_row[0], item))
            log("checkin")
            conn.execute("COMMIT")

    return run, conn


def bare_minimal(db_file: Path) -> tuple[Callable[[int], None], sqlite3.Connection]:
    """For reference: the same two writes on a two-table schema with no indexes or constraints."""
    conn = sqlite3.connect(db_file, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, status TEXT)")
    conn.execute("CREATE TABLE loans (id INTEGER PRIMARY KEY, item_id INT, patron_id INT, due_at TEXT, status TEXT, returned_at TEXT)")
    conn.execute("INSERT INTO items VALUES (1, 'available')")

    def run(pairs: int) -> None:
        for _ in range(pairs):
            conn.execute("BEGIN IMMEDIATE")
            loan = conn.execute("INSERT INTO loans (item_id, patron_id, due_at, status) VALUES (1, 1, '2026-05-01', 'active')").lastrowid
            conn.execute("UPDATE items SET status = 'checked_out' WHERE id = 1")
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE loans SET status = 'returned', returned_at = '2026-03-03' WHERE id = ?", (loan,))
            conn.execute("UPDATE items SET status = 'available' WHERE id = 1")
            conn.execute("COMMIT")

    return run, conn


def bench_loans(pairs: int, workdir: Path, block: int = 100) -> dict[str, LoanTimings]:
    """The set-ups in alternating blocks, so a busy moment on the machine falls on all of them alike."""
    service, app = service_loans(workdir)
    service(20)  # warm the caches the first calls fill, and give the bare runs rows to copy
    setups = {
        "service": (service, None),
        "bare_same_rows": bare_same_rows(workdir / "service.db", audit=True),
        "bare_loan_rows": bare_same_rows(workdir / "service.db", audit=False),
        "bare_minimal": bare_minimal(workdir / "bare.db"),
    }
    timings = {name: LoanTimings() for name in setups}
    for _ in range(max(1, pairs // block)):
        for name, (run, _) in setups.items():
            timings[name].measure(run, block)
    for _, conn in setups.values():
        if conn is not None:
            conn.close()
    app.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sql-events", type=int, default=2000, help="events for the SQL engine baseline")
    parser.add_argument("--loans", type=int, default=2000, help="checkout+checkin pairs per set-up")
    args = parser.parse_args()

    per_decision = bench_decisions(args.decisions)
    print(f"policy_decision_us {per_decision:.1f}   (target < 50; ratio to target {per_decision / 50:.2f}x)")

    rate, cpu_rate, engine = bench_simulation(args.events)
    sql_rate, _, _ = bench_simulation(args.sql_events, "sql")
    print(f"simulate_events_per_s {rate:,.0f} ({engine} engine, {args.events:,} events; 1M events would take "
          f"{1e6 / rate:,.1f} s, target < 10 s, {rate / 1e5:.2f}x the target rate)")
    print(f"simulate_events_per_cpu_s {cpu_rate:,.0f}   (events per second of this process's CPU time)")
    print(f"simulate_sql_engine_events_per_s {sql_rate:,.0f}   (memory engine {rate / sql_rate:,.0f}x faster, same run)")
    print(f"load_average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    with tempfile.TemporaryDirectory() as tmp:
        timings = bench_loans(args.loans, Path(tmp))
    service = timings["service"]
    print(f"service_checkout_checkin_ms mean {statistics.fmean(service.wall) * 1e3:.3f} "
          f"(cpu {statistics.fmean(service.cpu) * 1e3:.3f}, best block {min(service.wall) * 1e3:.3f})")
    for name, what in (("bare_same_rows", "the rows the service writes: loans, items and its two audit-log rows"),
                       ("bare_loan_rows", "loans and items only, the audit-log rows left out")):
        bare = timings[name]
        print(f"{name}_ms mean {statistics.fmean(bare.wall) * 1e3:.3f} "
              f"(cpu {statistics.fmean(bare.cpu) * 1e3:.3f}, best block {min(bare.wall) * 1e3:.3f})   ({what})")
        print(f"  service_vs_{name}_ratio {statistics.fmean(service.wall) / statistics.fmean(bare.wall):.2f}x wall, "
              f"{statistics.fmean(service.cpu) / statistics.fmean(bare.cpu):.2f}x cpu, "
              f"{min(service.wall) / min(bare.wall):.2f}x best blocks   (target <= 3x)")
    minimal = timings["bare_minimal"]
    print(f"bare_minimal_schema_ms mean {statistics.fmean(minimal.wall) * 1e3:.3f}   (two bare tables, for reference: "
          f"service {statistics.fmean(service.wall) / statistics.fmean(minimal.wall):.1f}x)")
    print(f"load_average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

if __name__ == "__main__":
    main()
