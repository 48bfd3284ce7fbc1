"""A terminal whose server process dies resends its request to another process: it is applied exactly once.

Two cases, one after the other on three processes: the server was killed
after acknowledging (the reply was lost on the way), and killed right after
the request went out (the transaction may or may not have committed).  Either way the resent
frame, with the same transaction date and sequence number, gets an "ok"
and the database holds the loan (or payment) once.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from ils_bridge.app import App
from ils_bridge.storage import schema as s
from tests.deployment.support import (
    ServeProcess,
    Terminal,
    checkout_request,
    ok,
    payment_request,
    seed,
    write_config,
)


def counts(url: str, patron: str) -> tuple[int, int]:
    """(loans of the patron, payments by the patron) in the database."""
    app = App.open(url)
    try:
        with app.db.engine.connect() as conn:
            patron_id = conn.execute(select(s.patrons.c.id).where(s.patrons.c.number == patron)).scalar_one()
            loans = conn.execute(select(func.count()).select_from(s.loans).where(s.loans.c.patron_id == patron_id)).scalar_one()
            paid = conn.execute(select(func.count()).select_from(s.ledger_entries).where(
                s.ledger_entries.c.patron_id == patron_id, s.ledger_entries.c.kind == "payment")).scalar_one()
        return loans, paid
    finally:
        app.close()


def test_a_resent_transaction_after_reconnect_is_applied_once(pg_url: str, tmp_path: Path):
    world = seed(pg_url, borrowers=1, copies=2, payers=1, terminals=1)
    config = write_config(tmp_path)
    servers = [ServeProcess(pg_url, config) for _ in range(3)]
    try:
        for server in servers:
            server.wait_ready()
        borrower, payer = world.borrowers[0], world.payers[0]
        terminal = Terminal(world.terminals[0], [server.port for server in servers])
        assert ok(terminal.checkout(borrower, world.natural[0]))  # logged in to the first process
        for reply_read, item, server in [(True, world.social[0], servers[0]), (False, world.social[1], servers[1])]:
            checkout = terminal.frame(checkout_request(borrower, item))
            payment = terminal.frame(payment_request(payer, "1.00"))
            for frame in (checkout, payment):
                if reply_read:
                    assert ok(terminal.send(frame))  # acknowledged, then the process dies
                else:
                    terminal.send_only(frame)  # in flight when the process dies
            server.kill()
            assert ok(terminal.send(checkout)) and ok(terminal.send(payment))  # resent to the next process
    finally:
        ServeProcess.stop_all(servers)
    assert terminal.reconnects == 2
    assert counts(pg_url, borrower)[0] == 3  # the first checkout and each resent one, once
    assert counts(pg_url, payer)[1] == 2
