"""The durable notice outbox (table ``notices_outbox``): enqueue, claim, mark, dead letters.

Row life: ``pending`` -> ``sent``, or ``pending`` -> ``dead`` after too many
failed attempts or one permanent failure; ``retry_dead`` puts dead rows back
to ``pending``.

Claiming is a lease, not an extra status: one conditional UPDATE moves a due
row's ``next_attempt_at`` into the future (by ``lease``) and counts the
attempt, and only the worker whose UPDATE changed the row sends it.  If that
worker dies, the row becomes due again when the lease runs out, so nothing is
stuck in a "sending" state.  On PostgreSQL the candidate SELECT also uses
``FOR UPDATE SKIP LOCKED`` so concurrent workers pick different rows instead
of queueing on each other; SQLite (no row locks) relies on the conditional
UPDATE alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ils_bridge.connectors.notices.kinds import CHANNELS, KINDS, VARIABLES
from ils_bridge.storage.schema import notices_outbox

PENDING, SENT, DEAD = "pending", "sent", "dead"
MAX_KEY_LENGTH = 256
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def daily_key(kind: str, channel: str, subject: str, day: dt.date) -> str:
    """The dedupe key of a once-a-day notice, e.g. ``overdue:sms:loan-42:2026-11-23``.

    A job that runs twice on the same day builds the same key and so enqueues
    nothing new the second time.
    """
    return f"{kind}:{channel}:{subject}:{day.isoformat()}"


def enqueue(
    conn: Connection,
    *,
    library_id: int,
    patron_id: int,
    kind: str,
    channel: str,
    dedupe_key: str,
    payload: Mapping[str, Any],
    now: dt.datetime,
) -> int | None:
    """Add one notice in the caller's transaction; ``None`` if the dedupe key is already queued.

    ``payload`` holds the kind's template variables (see ``kinds.VARIABLES``).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown notice channel {channel!r}")
    missing = sorted(set(VARIABLES[kind]) - set(payload))
    if missing:
        raise ValueError(f"a {kind} notice needs {', '.join(missing)} in its payload")
    if not dedupe_key or len(dedupe_key) > MAX_KEY_LENGTH:
        raise ValueError(f"dedupe key must be 1 to {MAX_KEY_LENGTH} characters")
    insert = _INSERTS.get(conn.dialect.name)
    if insert is None:
        raise NotImplementedError(f"outbox enqueue supports {', '.join(_INSERTS)}, not {conn.dialect.name}")
    statement = (
        insert(notices_outbox)
        .values(
            library_id=library_id,
            patron_id=patron_id,
            kind=kind,
            channel=channel,
            dedupe_key=dedupe_key,
            payload=dict(payload),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["library_id", "dedupe_key"])
        .returning(notices_outbox.c.id)
    )
    return conn.execute(statement).scalar()


@dataclass(frozen=True)
class ClaimedNotice:
    id: int
    library_id: int
    patron_id: int
    kind: str
    channel: str
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int  # including this one


def give_up_stale(engine: Engine, now: dt.datetime, max_attempts: int) -> int:
    """Mark dead the due rows whose attempts ran out without a recorded failure (workers that died)."""
    with engine.begin() as conn:
        return conn.execute(
            update(notices_outbox)
            .where(
                notices_outbox.c.status == PENDING,
                notices_outbox.c.next_attempt_at <= now,
                notices_outbox.c.attempts >= max_attempts,
            )
            .values(status=DEAD, last_error=f"gave up after {max_attempts} attempts (worker stopped mid-delivery)")
        ).rowcount


def claim_due(engine: Engine, now: dt.datetime, *, limit: int, lease: dt.timedelta) -> list[ClaimedNotice]:
    """Claim up to ``limit`` due rows for this worker for ``lease``; each claim counts one attempt."""
    with engine.begin() as conn:
        candidates = (
            conn.execute(
                select(notices_outbox)
                .where(notices_outbox.c.status == PENDING, notices_outbox.c.next_attempt_at <= now)
                .order_by(notices_outbox.c.next_attempt_at, notices_outbox.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .mappings()
            .all()
        )
        claimed = []
        for row in candidates:
            won = conn.execute(
                update(notices_outbox)
                .where(
                    notices_outbox.c.id == row["id"],
                    notices_outbox.c.status == PENDING,
                    notices_outbox.c.next_attempt_at <= now,
                )
                .values(attempts=notices_outbox.c.attempts + 1, next_attempt_at=now + lease)
            ).rowcount
            if won:
                claimed.append(_claimed(row))
        return claimed


def _claimed(row: Mapping[str, Any]) -> ClaimedNotice:
    return ClaimedNotice(
        id=row["id"],
        library_id=row["library_id"],
        patron_id=row["patron_id"],
        kind=row["kind"],
        channel=row["channel"],
        dedupe_key=row["dedupe_key"],
        payload=row["payload"],
        attempts=row["attempts"] + 1,
    )


def mark_sent(engine: Engine, notice_id: int, now: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(notices_outbox)
            .where(notices_outbox.c.id == notice_id, notices_outbox.c.status == PENDING)
            .values(status=SENT, sent_at=now, last_error=None)
        )


def mark_failed(engine: Engine, notice_id: int, error: str, *, retry_at: dt.datetime | None) -> None:
    """Record a failed attempt: due again at ``retry_at``, or dead if ``retry_at`` is None."""
    values: dict[str, Any] = {"last_error": error[:2000]}
    values.update({"status": DEAD} if retry_at is None else {"next_attempt_at": retry_at})
    with engine.begin() as conn:
        conn.execute(
            update(notices_outbox)
            .where(notices_outbox.c.id == notice_id, notices_outbox.c.status == PENDING)
            .values(**values)
        )


def list_dead(engine: Engine, library_id: int | None = None) -> list[dict[str, Any]]:
    """The dead-letter list: rows that will not be sent unless retried."""
    query = select(notices_outbox).where(notices_outbox.c.status == DEAD).order_by(notices_outbox.c.id)
    if library_id is not None:
        query = query.where(notices_outbox.c.library_id == library_id)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def retry_dead(engine: Engine, ids: Iterable[int], now: dt.datetime) -> int:
    """Give dead rows a fresh set of attempts, due now; returns how many were dead and are pending again."""
    ids = list(ids)
    if not ids:
        return 0
    with engine.begin() as conn:
        return conn.execute(
            update(notices_outbox)
            .where(notices_outbox.c.id.in_(ids), notices_outbox.c.status == DEAD)
            .values(status=PENDING, attempts=0, next_attempt_at=now)
        ).rowcount
