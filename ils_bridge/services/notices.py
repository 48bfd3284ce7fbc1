"""Queueing patron notices in the outbox, inside the transaction that caused them.

Delivery (templates, gateways, retries) is the notice connector's job; here a
notice is only recorded, once per dedupe key and channel, so a job that runs
twice in a day queues nothing twice and a rolled-back call queues nothing.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from ils_bridge.services.context import Ctx
from ils_bridge.storage import schema as s

DEFAULT_CHANNELS = ("email",)


def queue(ctx: Ctx) -> int:
    """Write the notices the call asked for; return how many rows were new."""
    channels = tuple(ctx.policy.notices.get("channels") or DEFAULT_CHANNELS)
    written = 0
    for notice in ctx.notices:
        for channel in channels:
            key = f"{notice['dedupe']}:{channel}"
            exists = ctx.conn.execute(select(s.notices_outbox.c.id).where(
                s.notices_outbox.c.library_id == ctx.library.id, s.notices_outbox.c.dedupe_key == key)).first()
            if exists:
                continue
            ctx.conn.execute(insert(s.notices_outbox).values(
                library_id=ctx.library.id, patron_id=notice["patron_id"], kind=notice["kind"], channel=channel,
                dedupe_key=key, payload=notice["payload"], status="pending", attempts=0,
                next_attempt_at=ctx.now, created_at=ctx.now))
            written += 1
    ctx.notices.clear()
    return written
