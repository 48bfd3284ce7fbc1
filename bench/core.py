"""Circulation core benchmark: prints figures and ratios, asserts nothing.

    python bench/core.py [--decisions N] [--events N] [--loans N]

1. Policy decision time: `decide_checkout` for a PhD with 20 loans out at
   Xuzhou (matching, limits, due date).  Target < 50 us per decision.
2. Simulation throughput: a generated Xuzhou scenario (checkouts, renewals,
   checkins, ticks) replayed by `policy simulate` (the memory engine), and a
   small run of the SQL engine as the baseline.  Target: 1M events < 10 s,
   i.e. >= 100,000 events/s.
3. Checkout + checkin through the service layer (one transaction each, on a
   SQLite file) against a bare SQLite insert + update of the same rows, on the
   same machine in the same run.  Target ratio <= 3x.
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


def bench_service_loans(n: int, workdir: Path) -> tuple[float, float]:
    clock = SettableClock(dt.datetime(2026, 3, 2, 9, tzinfo=TZ))
    app = App.open(f"sqlite:///{workdir / 'service.db'}", clock, create=True)
    lib = app.create_library((EXAMPLES / "xuzhou.yaml").read_text(encoding="utf-8"), author="bench")
    lib.register_patron("P1", "Bench", "phd")
    lib.issue_card("P1", "C1", valid_until=dt.date(2030, 1, 1))
    title = lib.add_title("Bench title").data["title_id"]
    for i in range(2):
        lib.add_item(f"I{i}", title, "zh_book", classification="R44", price="30.00")
    timings = []
    for i in range(n):
        start = time.perf_counter()
        assert lib.checkout("P1", "I0").ok
        assert lib.checkin("I0").ok
        timings.append(time.perf_counter() - start)
    app.close()
    return statistics.fmean(timings), statistics.quantiles(timings, n=100)[98]


def bench_bare_sqlite(n: int, workdir: Path) -> float:
    """The floor: the same two writes (insert a loan, mark it returned; update the item twice) with nothing else."""
    conn = sqlite3.connect(workdir / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, status TEXT)")
    conn.execute("CREATE TABLE loans (id INTEGER PRIMARY KEY, item_id INT, patron_id INT, due_at TEXT, status TEXT, returned_at TEXT)")
    conn.execute("INSERT INTO items VALUES (1, 'available')")
    start = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        loan = conn.execute("INSERT INTO loans (item_id, patron_id, due_at, status) VALUES (1, 1, '2026-05-01', 'active')").lastrowid
        conn.execute("UPDATE items SET status = 'checked_out' WHERE id = 1")
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE loans SET status = 'returned', returned_at = '2026-03-03' WHERE id = ?", (loan,))
        conn.execute("UPDATE items SET status = 'available' WHERE id = 1")
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sql-events", type=int, default=2000, help="events for the SQL engine baseline")
    parser.add_argument("--loans", type=int, default=500)
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
        workdir = Path(tmp)
        service_mean, service_p99 = bench_service_loans(args.loans, workdir)
        bare = bench_bare_sqlite(args.loans, workdir)
    print(f"service_checkout_checkin_ms mean {service_mean * 1e3:.2f} p99 {service_p99 * 1e3:.2f}")
    print(f"bare_sqlite_insert_update_ms {bare * 1e3:.3f}")
    print(f"service_vs_bare_ratio {service_mean / bare:.1f}x   (target <= 3x)")


if __name__ == "__main__":
    main()
