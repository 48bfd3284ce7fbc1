"""The notice outbox and delivery worker: dedupe, claiming, retries, dead letters, crash recovery."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import responses
import sqlalchemy
from sqlalchemy import select

from ils_bridge.connectors.http import HttpClient, RetryPolicy
from ils_bridge.connectors.notices import (
    IDEMPOTENCY_HEADER,
    DeliveryPolicy,
    NoticeGateway,
    TemplateCatalogue,
    daily_key,
    deliver_due,
    enqueue,
    list_dead,
    outbox,
    retry_dead,
)
from ils_bridge.storage.schema import notices_outbox

SMS_URL = "https://sms.example.cn/v1/send"
POLICY = DeliveryPolicy(max_attempts=3, backoff=dt.timedelta(minutes=1), lease=dt.timedelta(minutes=5))
OVERDUE = {"title": "Truyện Kiều", "due_date": "2026-11-20", "days_overdue": 3}


class GatewayWithDedupe:
    """A fake SMS gateway that honours Idempotency-Key, as the real one must."""

    def __init__(self) -> None:
        self.delivered: dict[str, dict[str, Any]] = {}
        self.requests = 0

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.requests += 1
        self.delivered.setdefault(request.headers[IDEMPOTENCY_HEADER], json.loads(request.body))
        return 202, {}, json.dumps({"accepted": True})


@pytest.fixture
def catalogue() -> TemplateCatalogue:
    return TemplateCatalogue()


@pytest.fixture
def gateways() -> dict[str, NoticeGateway]:
    client = HttpClient("sms", "https://sms.example.cn/v1/", retry=RetryPolicy(attempts=1), sleep=lambda s: None)
    return {"sms": NoticeGateway(client, "/send")}


@pytest.fixture
def patron(add_patron) -> int:
    return add_patron("2023001", name="Nguyễn Thị Lan", language="vi", phone="+84900000001", email=None)


def queue(
    engine: sqlalchemy.Engine,
    patron_id: int,
    now: dt.datetime,
    key: str = "overdue:sms:loan-1:2026-11-23",
    channel: str = "sms",
) -> int | None:
    with engine.begin() as conn:
        return enqueue(
            conn,
            library_id=1,
            patron_id=patron_id,
            kind="overdue",
            channel=channel,
            dedupe_key=key,
            payload=OVERDUE,
            now=now,
        )


def row(engine: sqlalchemy.Engine, notice_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(notices_outbox).where(notices_outbox.c.id == notice_id)).mappings().one()


def test_same_dedupe_key_twice_gives_one_row(engine, patron, now) -> None:
    key = daily_key("overdue", "sms", "loan-1", now.date())
    first = queue(engine, patron, now, key)
    second = queue(engine, patron, now + dt.timedelta(hours=3), key)  # the daily job ran again
    assert first is not None and second is None
    with engine.connect() as conn:
        assert conn.execute(select(sqlalchemy.func.count()).select_from(notices_outbox)).scalar() == 1
    assert (
        queue(engine, patron, now, daily_key("overdue", "sms", "loan-1", now.date() + dt.timedelta(days=1))) is not None
    )


def test_enqueue_refuses_unknown_kind_and_channel(engine, patron, now) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match="kind"):
        enqueue(
            conn, library_id=1, patron_id=patron, kind="birthday", channel="sms", dedupe_key="k", payload={}, now=now
        )
    with engine.begin() as conn, pytest.raises(ValueError, match="channel"):
        enqueue(conn, library_id=1, patron_id=patron, kind="fine", channel="fax", dedupe_key="k", payload={}, now=now)
    with engine.begin() as conn, pytest.raises(ValueError, match="needs days_overdue, due_date in its payload"):
        enqueue(
            conn,
            library_id=1,
            patron_id=patron,
            kind="overdue",
            channel="sms",
            dedupe_key="k",
            payload={"title": "T"},
            now=now,
        )


@responses.activate
def test_delivery_renders_in_patron_language_and_sends_idempotency_key(
    engine, patron, gateways, catalogue, now
) -> None:
    gateway = GatewayWithDedupe()
    responses.add_callback(responses.POST, SMS_URL, callback=gateway)
    notice = queue(engine, patron, now)

    report = deliver_due(engine, now, gateways=gateways, templates=catalogue, policy=POLICY)

    assert report.sent == [notice]
    [(key, body)] = gateway.delivered.items()
    assert key == "xuzhou:overdue:sms:loan-1:2026-11-23"
    assert body["to"] == "+84900000001" and body["language"] == "vi" and body["patron"] == "2023001"
    assert "Nguyễn Thị Lan" in body["text"] and "Truyện Kiều" in body["text"] and "quá hạn 3 ngày" in body["text"]
    sent = row(engine, notice)
    assert (sent["status"], sent["sent_at"], sent["attempts"]) == ("sent", now, 1)
    assert (
        deliver_due(engine, now + dt.timedelta(hours=1), gateways=gateways, templates=catalogue, policy=POLICY).sent
        == []
    )


@responses.activate
def test_crash_between_sent_and_recorded_resends_with_same_key_and_gateway_keeps_one(
    engine, patron, gateways, catalogue, now, monkeypatch
) -> None:
    gateway = GatewayWithDedupe()
    responses.add_callback(responses.POST, SMS_URL, callback=gateway)
    notice = queue(engine, patron, now)

    def process_dies(*args: object) -> None:
        raise SystemExit("killed after the gateway accepted, before recording")

    monkeypatch.setattr(outbox, "mark_sent", process_dies)
    with pytest.raises(SystemExit):
        deliver_due(engine, now, gateways=gateways, templates=catalogue, policy=POLICY)
    monkeypatch.undo()
    assert row(engine, notice)["status"] == "pending" and gateway.requests == 1

    # Restarted within the dead worker's lease: the row is still claimed, nothing is sent.
    assert (
        deliver_due(engine, now + dt.timedelta(minutes=1), gateways=gateways, templates=catalogue, policy=POLICY).sent
        == []
    )
    # After the lease: sent again, with the same key; the gateway delivers it once.
    later = now + POLICY.lease + dt.timedelta(seconds=1)
    assert deliver_due(engine, later, gateways=gateways, templates=catalogue, policy=POLICY).sent == [notice]
    assert gateway.requests == 2 and len(gateway.delivered) == 1
    assert [c.request.headers[IDEMPOTENCY_HEADER] for c in responses.calls] == [
        "xuzhou:overdue:sms:loan-1:2026-11-23"
    ] * 2
    assert row(engine, notice)["status"] == "sent"


@responses.activate
def test_failures_back_off_exponentially_then_go_dead_and_can_be_retried(
    engine, patron, gateways, catalogue, now
) -> None:
    responses.post(SMS_URL, status=503)
    notice = queue(engine, patron, now)

    first = deliver_due(engine, now, gateways=gateways, templates=catalogue, policy=POLICY)
    assert first.retrying == [notice] and row(engine, notice)["next_attempt_at"] == now + dt.timedelta(minutes=1)
    second_at = now + dt.timedelta(minutes=1)
    deliver_due(engine, second_at, gateways=gateways, templates=catalogue, policy=POLICY)
    assert row(engine, notice)["next_attempt_at"] == second_at + dt.timedelta(minutes=2)
    third = deliver_due(
        engine, second_at + dt.timedelta(minutes=2), gateways=gateways, templates=catalogue, policy=POLICY
    )

    assert third.dead == [notice]
    [dead] = list_dead(engine, library_id=1)
    assert (dead["id"], dead["status"], dead["attempts"]) == (notice, "dead", 3) and "HTTP 503" in dead["last_error"]
    assert (
        deliver_due(engine, now + dt.timedelta(days=1), gateways=gateways, templates=catalogue, policy=POLICY).sent
        == []
    )

    responses.replace(responses.POST, SMS_URL, json={"accepted": True})
    assert retry_dead(engine, [notice], now + dt.timedelta(days=1)) == 1
    assert deliver_due(
        engine, now + dt.timedelta(days=1), gateways=gateways, templates=catalogue, policy=POLICY
    ).sent == [notice]
    assert list_dead(engine) == [] and retry_dead(engine, [notice], now) == 0


@responses.activate
def test_gateway_4xx_is_dead_at_once(engine, patron, gateways, catalogue, now) -> None:
    responses.post(SMS_URL, status=400, body="bad number")
    notice = queue(engine, patron, now)
    assert deliver_due(engine, now, gateways=gateways, templates=catalogue, policy=POLICY).dead == [notice]
    assert len(responses.calls) == 1 and "bad number" in row(engine, notice)["last_error"]


def test_no_address_or_no_gateway_is_dead_at_once_without_sending(engine, patron, gateways, catalogue, now) -> None:
    by_email = queue(engine, patron, now, key="k-email", channel="email")  # the patron has no email
    by_wechat = queue(engine, patron, now, key="k-wechat", channel="wechat")  # no wechat gateway configured
    with responses.RequestsMock():
        report = deliver_due(
            engine, now, gateways={**gateways, "email": gateways["sms"]}, templates=catalogue, policy=POLICY
        )
    assert sorted(report.dead) == sorted([by_email, by_wechat])
    assert "no address for email" in row(engine, by_email)["last_error"]
    assert "no gateway configured for channel 'wechat'" in row(engine, by_wechat)["last_error"]


def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(engine, patron, now) -> None:
    notice = queue(engine, patron, now)
    lease = dt.timedelta(minutes=5)
    assert [c.id for c in outbox.claim_due(engine, now, limit=10, lease=lease)] == [notice]
    assert outbox.claim_due(engine, now, limit=10, lease=lease) == []
    assert [c.attempts for c in outbox.claim_due(engine, now + lease, limit=10, lease=lease)] == [2]


def test_worker_that_died_on_the_last_attempt_is_given_up(engine, patron, now) -> None:
    notice = queue(engine, patron, now)
    for attempt in range(POLICY.max_attempts):
        outbox.claim_due(engine, now + attempt * POLICY.lease, limit=10, lease=POLICY.lease)
    report = deliver_due(engine, now + 10 * POLICY.lease, gateways={}, templates=TemplateCatalogue(), policy=POLICY)
    assert report.gave_up_stale == 1 and row(engine, notice)["status"] == "dead"
