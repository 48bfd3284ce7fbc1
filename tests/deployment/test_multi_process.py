"""Three `serve sip2` processes on one PostgreSQL database, one of them SIGKILLed in the middle of a load run.

Concurrent terminals check out, check in and pay fees, spread over the
processes; a terminal whose connection dies reconnects to another process
and resends the same request (same transaction date and sequence number).
Every request is answered in the end, so the database must hold exactly
what the terminals were told: no acknowledged transaction lost, none
applied twice, no half-done one, no limit broken.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from ils_bridge.app import App
from ils_bridge.storage import schema as s
from tests.deployment.support import (
    ServeProcess,
    Terminal,
    World,
    ok,
    seed,
    write_config,
)

PROCESSES = 3
OPERATIONS = 30  # per terminal
KILL_AFTER = 0.3  # of all operations answered
PAYMENT = Decimal("0.10")


class LoadRun:
    """Terminals in threads, each doing its own random mix; what every reply said is kept per operation."""

    def __init__(self, world: World, ports: list[int]) -> None:
        self.world = world
        self.terminals = [Terminal(login, ports[n % len(ports):] + ports[:n % len(ports)])
                          for n, login in enumerate(world.terminals)]
        self.answered: list[tuple[str, str, str, bool]] = []  # (op, patron, item, ok)
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self.progress = threading.Semaphore(0)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._run, args=(t, random.Random(n)), daemon=True)
                   for n, t in enumerate(self.terminals)]
        for thread in threads:
            thread.start()
        return threads

    def _run(self, terminal: Terminal, rng: random.Random) -> None:
        try:
            for _ in range(OPERATIONS):
                self._one(terminal, rng)
                self.progress.release()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
        finally:
            terminal.close()

    def _one(self, terminal: Terminal, rng: random.Random) -> None:
        roll, world = rng.random(), self.world
        if roll < 0.5:
            patron, item = rng.choice(world.borrowers), rng.choice(world.items)
            record = ("checkout", patron, item, ok(terminal.checkout(patron, item)))
        elif roll < 0.85:
            item = rng.choice(world.items)
            record = ("checkin", "", item, ok(terminal.checkin(item)))
        else:
            patron = rng.choice(world.payers)
            record = ("pay", patron, "", ok(terminal.pay(patron, str(PAYMENT))))
        with self._lock:
            self.answered.append(record)

    def done(self, op: str) -> list[tuple[str, str]]:
        return [(patron, item) for o, patron, item, accepted in self.answered if o == op and accepted]


def test_sigkill_mid_run_loses_nothing_acknowledged_and_applies_nothing_twice(pg_url: str, tmp_path: Path):
    world = seed(pg_url)
    config = write_config(tmp_path)
    servers = [ServeProcess(pg_url, config, "--pool-size", "4") for _ in range(PROCESSES)]
    try:
        for server in servers:
            server.wait_ready()
        run = LoadRun(world, [server.port for server in servers])
        threads = run.start()
        for _ in range(int(KILL_AFTER * OPERATIONS * len(run.terminals))):
            assert run.progress.acquire(timeout=60), "the load stalled before the kill"
        servers[0].kill()
        for thread in threads:
            thread.join(90)
        assert not run.errors, run.errors
        assert all(not thread.is_alive() for thread in threads)
    finally:
        ServeProcess.stop_all(servers)
    assert len(run.answered) == OPERATIONS * len(run.terminals)
    assert sum(t.reconnects for t in run.terminals) > 0, "no terminal was cut off by the kill"
    check_invariants(pg_url, world, run)


def check_invariants(url: str, world: World, run: LoadRun) -> None:
    checkouts, checkins, payments = run.done("checkout"), run.done("checkin"), run.done("pay")
    assert checkouts and checkins and payments, "the mix did not exercise every operation"
    app = App.open(url)
    try:
        with app.db.engine.connect() as conn:
            loans = conn.execute(select(s.patrons.c.number, s.items.c.barcode, s.loans.c.status)
                                 .join(s.patrons, s.patrons.c.id == s.loans.c.patron_id)
                                 .join(s.items, s.items.c.id == s.loans.c.item_id)
                                 .where(s.patrons.c.number.in_(world.borrowers))).all()
            audit = Counter((op, accepted) for op, accepted in conn.execute(
                select(s.transactions.c.op, s.transactions.c.ok).where(s.transactions.c.terminal.in_(world.terminals))))
            payment_entries = dict(conn.execute(
                select(s.patrons.c.number, func.count()).join(s.patrons, s.patrons.c.id == s.ledger_entries.c.patron_id)
                .where(s.ledger_entries.c.kind == "payment").group_by(s.patrons.c.number)).all())
            fee_sums = dict(conn.execute(
                select(s.patrons.c.number, func.sum(s.ledger_entries.c.amount_minor))
                .join(s.patrons, s.patrons.c.id == s.ledger_entries.c.patron_id)
                .where(s.ledger_entries.c.account == "fees").group_by(s.patrons.c.number)).all())
        lib = app.library("xuzhou")

        # every acknowledged checkout is a loan, and every loan was acknowledged: none lost, none doubled
        assert Counter((patron, item) for patron, item, _ in loans) == Counter(checkouts)
        # every loan no longer active was ended by an acknowledged checkin, and vice versa
        assert sum(status == "returned" for *_, status in loans) == len(checkins)
        assert audit[("checkout", True)] == len(checkouts) and audit[("checkin", True)] == len(checkins)
        assert audit[("pay", True)] == len(payments)

        active = [(patron, item) for patron, item, status in loans if status == "active"]
        assert max(Counter(item for _, item in active).values(), default=0) <= 1, "an item is lent twice"
        for patron in world.borrowers:
            held = [item for p, item in active if p == patron]
            assert len(held) <= 4
            assert sum(i in world.social for i in held) <= 2 and sum(i in world.natural for i in held) <= 2
            assert sorted(held) == sorted(loan["item"] for loan in lib.patron_account(patron)["loans"])

        paid = Counter(patron for patron, _ in payments)
        for patron in world.payers:
            assert payment_entries.get(patron, 0) == paid[patron]
            owed = lib.patron_account(patron)["fees_owed"]
            assert owed == world.fee - PAYMENT * paid[patron]
            assert owed == Decimal(fee_sums[patron]) / 100
    finally:
        app.close()
