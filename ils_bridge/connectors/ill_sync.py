"""The database side of the ILL gateway: send a ``new`` request, bring ``sent`` requests up to date.

Each change appends an entry to the request's ``history`` (who: ``ill_gateway``).
No transaction is open while the gateway is called.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from ils_bridge.connectors.http import ConnectorError
from ils_bridge.connectors.ill_gateway import GatewayStatus, IllGateway, IllSubmission
from ils_bridge.storage.schema import ill_requests, libraries, patrons

ACTOR = "ill_gateway"


class IllStateError(ValueError):
    """The request is unknown or not in the state this step needs."""


@dataclass
class PollReport:
    changed: dict[int, str] = field(default_factory=dict)  # request id -> new state
    unchanged: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


def _history_entry(now: dt.datetime, event: str, **details: Any) -> dict[str, Any]:
    return {"at": now.isoformat(), "by": ACTOR, "event": event, **{k: v for k, v in details.items() if v is not None}}


def send_request(engine: Engine, request_id: int, gateway: IllGateway, now: dt.datetime) -> str:
    """Submit a ``new`` request and record it as ``sent``; returns the gateway reference."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(ill_requests, patrons.c.number.label("patron_number"), libraries.c.code.label("library_code"))
                .join(patrons, patrons.c.id == ill_requests.c.patron_id)
                .join(libraries, libraries.c.id == ill_requests.c.library_id)
                .where(ill_requests.c.id == request_id)
            )
            .mappings()
            .first()
        )
    if row is None or row["state"] != "new":
        raise IllStateError(f"ILL request {request_id} is {'unknown' if row is None else row['state']}, not new")
    ref = gateway.submit(
        IllSubmission(
            request_id=request_id,
            library=row["library_code"],
            patron=row["patron_number"],
            title=row["title"],
            kind=row["kind"],
            field=row["field"],
            details=row["details"] or {},
        )
    )
    history = [*row["history"], _history_entry(now, "sent", gateway_ref=ref)]
    with engine.begin() as conn:
        conn.execute(
            update(ill_requests)
            .where(ill_requests.c.id == request_id, ill_requests.c.state == "new")
            .values(state="sent", gateway_ref=ref, history=history, updated_at=now)
        )
    return ref


def poll_sent(engine: Engine, library_id: int, gateway: IllGateway, now: dt.datetime) -> PollReport:
    """Ask the gateway about every ``sent`` request of the library and record state changes."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ill_requests.c.id, ill_requests.c.gateway_ref).where(
                ill_requests.c.library_id == library_id,
                ill_requests.c.state == "sent",
                ill_requests.c.gateway_ref.is_not(None),
            )
        ).all()
    report = PollReport()
    for request_id, ref in rows:
        try:
            status = gateway.status(ref)
        except ConnectorError as exc:
            report.errors[request_id] = str(exc)
            continue
        if status.state == "sent":
            report.unchanged.append(request_id)
        elif _record_status(engine, request_id, status, now):
            report.changed[request_id] = status.state
    return report


def _record_status(engine: Engine, request_id: int, status: GatewayStatus, now: dt.datetime) -> bool:
    """Move a still-``sent`` request to the gateway's state; False if someone changed it meanwhile."""
    with engine.begin() as conn:
        history = conn.execute(select(ill_requests.c.history).where(ill_requests.c.id == request_id)).scalar_one()
        entry = _history_entry(
            now,
            "state",
            state=status.state,
            gateway_state=status.gateway_state,
            lender=status.lender,
            cost_minor=status.cost_minor,
        )
        values: dict[str, Any] = {"state": status.state, "history": [*history, entry], "updated_at": now}
        if status.lender is not None:
            values["lender"] = status.lender
        if status.cost_minor is not None:
            values["cost_minor"] = status.cost_minor
        changed = conn.execute(
            update(ill_requests).where(ill_requests.c.id == request_id, ill_requests.c.state == "sent").values(**values)
        ).rowcount
    return bool(changed)
