"""The delivery worker: claim due outbox rows, render, send through the channel's gateway, record.

Delivery is at least once.  A transient failure (host down, timeout, 5xx)
is retried with exponential backoff; after ``max_attempts`` the row is dead.
A permanent failure (gateway answered 4xx, the patron has no address for the
channel, no gateway configured, a template needs a value the notice lacks)
makes the row dead at once: retrying could not help, an admin must act and
then ``retry_dead``.  No database transaction is open while a gateway is
called.

Settings (``connectors.notices``)::

    max_attempts: 6          # attempts before a row is dead
    backoff_seconds: 60      # wait before the 2nd attempt, doubled for each further one
    max_backoff_seconds: 21600
    lease_seconds: 300       # how long a claimed row belongs to one worker
    batch: 100               # rows claimed at a time
    templates_dir: /etc/ils-bridge/notices   # optional per-library overrides
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ils_bridge.connectors.config import ConnectorConfigError, read_float, read_int
from ils_bridge.connectors.http import ConnectorError, ConnectorRejected
from ils_bridge.connectors.notices import outbox
from ils_bridge.connectors.notices.gateway import NoticeGateway, OutgoingMessage
from ils_bridge.connectors.notices.templates import TemplateCatalogue, TemplateError
from ils_bridge.storage.schema import libraries, patrons


class PermanentFailure(Exception):
    """This notice cannot be delivered as it stands; retrying would fail the same way."""


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    backoff: dt.timedelta = dt.timedelta(minutes=1)
    max_backoff: dt.timedelta = dt.timedelta(hours=6)
    lease: dt.timedelta = dt.timedelta(minutes=5)
    batch: int = 100

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.batch < 1:
            raise ConnectorConfigError("notices: max_attempts and batch must be at least 1")
        if self.backoff <= dt.timedelta(0) or self.lease <= dt.timedelta(0):
            raise ConnectorConfigError("notices: backoff and lease must be positive")

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> DeliveryPolicy:
        seconds = lambda key, default: dt.timedelta(seconds=read_float(settings, key, default))  # noqa: E731
        return cls(
            max_attempts=read_int(settings, "max_attempts", 6),
            backoff=seconds("backoff_seconds", 60),
            max_backoff=seconds("max_backoff_seconds", 6 * 3600),
            lease=seconds("lease_seconds", 300),
            batch=read_int(settings, "batch", 100),
        )

    def retry_at(self, now: dt.datetime, attempts: int) -> dt.datetime:
        return now + min(self.max_backoff, self.backoff * 2 ** (attempts - 1))


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    gave_up_stale: int = 0


def deliver_due(
    engine: Engine,
    now: dt.datetime,
    *,
    gateways: Mapping[str, NoticeGateway],
    templates: TemplateCatalogue,
    policy: DeliveryPolicy = DeliveryPolicy(),
) -> DeliveryReport:
    """Send every notice due at ``now``, batch by batch, and say what happened to each."""
    report = DeliveryReport(gave_up_stale=outbox.give_up_stale(engine, now, policy.max_attempts))
    while claimed := outbox.claim_due(engine, now, limit=policy.batch, lease=policy.lease):
        for notice in claimed:
            _deliver_one(engine, notice, now, gateways, templates, policy, report)
    return report


def _deliver_one(
    engine: Engine,
    notice: outbox.ClaimedNotice,
    now: dt.datetime,
    gateways: Mapping[str, NoticeGateway],
    templates: TemplateCatalogue,
    policy: DeliveryPolicy,
    report: DeliveryReport,
) -> None:
    try:
        gateway = gateways.get(notice.channel)
        if gateway is None:
            raise PermanentFailure(f"no gateway configured for channel {notice.channel!r}")
        library_code, message = compose(engine, notice, templates)
        gateway.send(message, idempotency_key(library_code, notice.dedupe_key))
    except (PermanentFailure, TemplateError, ConnectorRejected) as exc:
        outbox.mark_failed(engine, notice.id, f"{type(exc).__name__}: {exc}", retry_at=None)
        report.dead.append(notice.id)
    except ConnectorError as exc:
        exhausted = notice.attempts >= policy.max_attempts
        retry_at = None if exhausted else policy.retry_at(now, notice.attempts)
        outbox.mark_failed(engine, notice.id, f"{type(exc).__name__}: {exc}", retry_at=retry_at)
        (report.dead if exhausted else report.retrying).append(notice.id)
    else:
        outbox.mark_sent(engine, notice.id, now)
        report.sent.append(notice.id)


def idempotency_key(library_code: str, dedupe_key: str) -> str:
    """The gateway-wide key: dedupe keys are unique per library, so the library code is prefixed."""
    return f"{library_code}:{dedupe_key}"


def address_for(channel: str, patron: Mapping[str, Any]) -> str | None:
    """Where a channel reaches the patron (``email``, ``phone``, ``external_id`` and ``number`` of the row)."""
    if channel == "email":
        return patron["email"]
    if channel == "sms":
        return patron["phone"]
    return patron["external_id"] or patron["number"]  # wechat: the gateway resolves the campus identity


def compose(engine: Engine, notice: outbox.ClaimedNotice, templates: TemplateCatalogue) -> tuple[str, OutgoingMessage]:
    """(library code, message) for a claimed notice, rendered in the patron's language."""
    with engine.connect() as conn:
        patron = conn.execute(select(patrons).where(patrons.c.id == notice.patron_id)).mappings().one()
        library = conn.execute(select(libraries).where(libraries.c.id == notice.library_id)).mappings().one()
    to = address_for(notice.channel, patron)
    if not to:
        raise PermanentFailure(f"patron {patron['number']} has no address for {notice.channel}")
    variables = {"name": patron["name"], "library": library["name"], **notice.payload}
    rendered = templates.render(library["code"], notice.kind, variables, patron["language"], library["language"])
    message = OutgoingMessage(
        channel=notice.channel,
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        kind=notice.kind,
        language=rendered.language,
        patron=patron["number"],
    )
    return library["code"], message
