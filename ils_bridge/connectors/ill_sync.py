"""The library side of the ILL gateway: send a ``new`` request, bring ``sent`` requests up to date.

Every state change goes through ``Library.ill_update``, like a change made at
the desk: the transition rules, the audit line and the request's history are
the service's, and on ``filled`` the service decides the subsidy by policy
and queues the patron's ``ill_arrived`` notice.  History notes name the
gateway (``ill_gateway: ...``).  No transaction is open while the gateway is
called.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from ils_bridge.app import Library
from ils_bridge.connectors.http import ConnectorError
from ils_bridge.connectors.ill_gateway import GatewayStatus, IllGateway, IllSubmission
from ils_bridge.money import from_minor
from ils_bridge.outcome import Outcome
from ils_bridge.storage.schema import ill_requests, patrons

ACTOR = "ill_gateway"


class IllStateError(ValueError):
    """The request is unknown or not in the state this step needs."""


@dataclass
class PollReport:
    changed: dict[int, str] = field(default_factory=dict)  # request id -> new state
    subsidies: dict[int, Decimal] = field(default_factory=dict)  # filled request id -> subsidy granted
    unchanged: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


def new_requests(library: Library) -> list[int]:
    """Ids of the library's requests not yet sent, oldest first."""
    return library.app.db.read(lambda conn: list(conn.execute(
        select(ill_requests.c.id).where(ill_requests.c.library_id == library.record.id, ill_requests.c.state == "new")
        .order_by(ill_requests.c.id)).scalars()))


def send_request(library: Library, request_id: int, gateway: IllGateway, now: dt.datetime | None = None) -> str:
    """Submit a ``new`` request and record it as ``sent``; returns the gateway reference."""
    row = library.app.db.read(lambda conn: _request(conn, library, request_id))
    if row is None or row["state"] != "new":
        raise IllStateError(f"ILL request {request_id} is {'unknown' if row is None else row['state']}, not new")
    ref = gateway.submit(IllSubmission(
        request_id=request_id, library=library.code, patron=row["patron_number"], title=row["title"],
        kind=row["kind"], field=row["field"], details=row["details"] or {},
    ))
    outcome = library.ill_update(request_id, "sent", gateway_ref=ref, note=f"{ACTOR}: sent as {ref}", at=now, actor=ACTOR)
    if not outcome.ok:
        raise IllStateError(f"ILL request {request_id}: {outcome.message}")
    return ref


def poll_sent(library: Library, gateway: IllGateway, now: dt.datetime | None = None) -> PollReport:
    """Ask the gateway about every ``sent`` request of the library and record state changes."""
    rows = library.app.db.read(lambda conn: conn.execute(
        select(ill_requests.c.id, ill_requests.c.gateway_ref).where(
            ill_requests.c.library_id == library.record.id,
            ill_requests.c.state == "sent",
            ill_requests.c.gateway_ref.is_not(None),
        ).order_by(ill_requests.c.id)
    ).all())
    report = PollReport()
    for request_id, ref in rows:
        try:
            status = gateway.status(ref)
        except ConnectorError as exc:
            report.errors[request_id] = str(exc)
            continue
        if status.state == "sent":
            report.unchanged.append(request_id)
            continue
        outcome = _record_status(library, request_id, status, now)
        if outcome.ok:
            report.changed[request_id] = status.state
            if outcome.data.get("subsidy") is not None:
                report.subsidies[request_id] = Decimal(str(outcome.data["subsidy"]))
        else:
            report.errors[request_id] = f"{outcome.reason.value}: {outcome.message}"
    return report


def _request(conn: Connection, library: Library, request_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(ill_requests, patrons.c.number.label("patron_number"))
        .join(patrons, patrons.c.id == ill_requests.c.patron_id)
        .where(ill_requests.c.id == request_id, ill_requests.c.library_id == library.record.id)
    ).mappings().first()
    return None if row is None else dict(row)


def _record_status(library: Library, request_id: int, status: GatewayStatus, now: dt.datetime | None) -> Outcome:
    """Move the request to the gateway's state through the facade (a refusal says why it could not)."""
    cost = None if status.cost_minor is None else from_minor(status.cost_minor, library.record.currency)
    return library.ill_update(request_id, status.state, lender=status.lender, cost=cost,
                              note=f"{ACTOR}: {status.gateway_state}", at=now, actor=ACTOR)
