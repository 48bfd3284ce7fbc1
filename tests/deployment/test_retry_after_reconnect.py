"""A terminal whose server process dies resends its request to another process: it is applied exactly once.

Two cases per operation: the server was killed after acknowledging (the
reply was lost on the way), and killed right after the request went out
(the transaction may or may not have committed).  Either way the resent
frame, with the same transaction date and sequence number, gets an "ok"
and the database holds the loan (or payment) once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ils_bridge.app import App
from ils_bridge.storage import schema as s
from tests.deployment.support import ServeProcess, Terminal, checkout_request, ok, payment_request, seed, write_config


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


@pytest.mark.parametrize("reply_read", [True, False], ids=["killed-after-reply", "killed-before-reply"])
def test_a_resent_transaction_after_reconnect_is_applied_once(pg_url: str, tmp_path: Path, reply_read: bool):
    world = seed(pg_url, borrowers=1, copies=1, payers=1, terminals=1)
    config = write_config(tmp_path)
    first, second = ServeProcess(pg_url, config), ServeProcess(pg_url, config)
    try:
        first.wait_ready()
        second.wait_ready()
        borrower, payer, item = world.borrowers[0], world.payers[0], world.social[0]
        terminal = Terminal(world.terminals[0], [first.port, second.port])
        assert ok(terminal.checkout(borrower, world.natural[0]))  # logged in to the first process

        checkout = terminal.frame(checkout_request(borrower, item))
        payment = terminal.frame(payment_request(payer, "1.00"))
        for frame in (checkout, payment):
            if reply_read:
                assert ok(terminal.send(frame))
            else:
                terminal.send_only(frame)
        first.kill()
        assert ok(terminal.send(checkout)) and ok(terminal.send(payment))  # resent to the second process
        assert terminal.reconnects >= 1
    finally:
        first.stop()
        second.stop()
    assert counts(pg_url, borrower)[0] == 2  # the first checkout and the resent one, once
    assert counts(pg_url, payer)[1] == 1

