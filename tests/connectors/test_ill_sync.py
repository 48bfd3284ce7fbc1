"""ILL requests sent to and polled from the gateway, recorded through the facade's ill_update."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import responses
from sqlalchemy import select

from ils_bridge.app import Library
from ils_bridge.connectors.http import ConnectorProtocolError, HttpClient, RetryPolicy
from ils_bridge.connectors.ill_gateway import IllGateway, IllGatewaySpec
from ils_bridge.connectors.ill_sync import IllStateError, new_requests, poll_sent, send_request
from ils_bridge.storage.schema import ill_requests, notices_outbox, transactions

API = "https://ill.example.org/api/requests"


@pytest.fixture
def lib(make_library) -> Library:
    library = make_library("jinan")  # 100 % subsidy, only within the patron's field
    assert library.register_patron("P1", "Nguyễn Văn A", "postgraduate", field="history", email="a@example.edu").ok
    assert library.issue_card("P1", "C-P1", valid_until=dt.date(2030, 1, 1)).ok
    return library


@pytest.fixture
def gateway() -> IllGateway:
    client = HttpClient("ill", "https://ill.example.org/api/", retry=RetryPolicy(attempts=1), sleep=lambda s: None)
    return IllGateway(client, IllGatewaySpec.from_mapping({}))


def request(lib: Library, title: str = "Đại Việt sử ký", field: str = "history") -> int:
    outcome = lib.ill_request("P1", title, field=field, kind="loan", details={"isbn": "9786040000000"})
    assert outcome.ok, outcome
    return outcome.data["request_id"]


def row(lib: Library, request_id: int):
    return lib.app.db.read(lambda c: c.execute(select(ill_requests).where(ill_requests.c.id == request_id)).one())


def notices(lib: Library, kind: str) -> list:
    return lib.app.db.read(lambda c: c.execute(select(notices_outbox).where(notices_outbox.c.kind == kind)).all())


@responses.activate
def test_send_submits_and_records_sent_through_the_service(lib: Library, gateway: IllGateway) -> None:
    request_id = request(lib)
    responses.post(API, json={"id": "GW-1"})

    assert new_requests(lib) == [request_id]
    assert send_request(lib, request_id, gateway) == "GW-1"

    body = json.loads(responses.calls[0].request.body)
    assert body == {"request_id": request_id, "library": "jinan", "patron": "P1", "title": "Đại Việt sử ký",
                    "kind": "loan", "field": "history", "details": {"isbn": "9786040000000"}}
    assert responses.calls[0].request.headers["Idempotency-Key"] == f"ill:jinan:{request_id}"
    saved = row(lib, request_id)
    assert (saved.state, saved.gateway_ref) == ("sent", "GW-1")
    assert saved.history[-1]["state"] == "sent" and saved.history[-1]["note"] == "ill_gateway: sent as GW-1"
    audit = lib.app.db.read(lambda c: c.execute(select(transactions.c.op).where(transactions.c.ok.is_(True))).scalars().all())
    assert "ill_update" in audit
    assert new_requests(lib) == []
    with pytest.raises(IllStateError, match="is sent, not new"):
        send_request(lib, request_id, gateway)


@responses.activate
def test_submit_answer_without_reference_changes_nothing(lib: Library, gateway: IllGateway) -> None:
    request_id = request(lib)
    responses.post(API, json={"ok": True})
    with pytest.raises(ConnectorProtocolError, match="no 'id'"):
        send_request(lib, request_id, gateway)
    assert row(lib, request_id).state == "new"


@responses.activate
def test_poll_records_filled_with_policy_subsidy_and_arrival_notice(lib: Library, gateway: IllGateway) -> None:
    filled, outside, waiting, broken, cancelled = (request(lib, f"T{n}", "history" if n != 1 else "physics")
                                                 for n in range(5))
    for ref, request_id in zip("ABCDE", (filled, outside, waiting, broken, cancelled)):
        responses.post(API, json={"id": ref})
        send_request(lib, request_id, gateway)
    responses.get(API + "/A", json={"status": "ended – filled", "lender": "Hanoi NL", "cost_minor": 2000})
    responses.get(API + "/B", json={"status": "ended – filled", "cost_minor": 3000})
    responses.get(API + "/C", json={"status": "sent, no answer yet"})
    responses.get(API + "/D", body="<html>")
    assert lib.ill_update(cancelled, "cancelled").ok  # at the desk meanwhile: no longer polled
    report = poll_sent(lib, gateway)

    assert report.changed == {filled: "filled", outside: "filled"} and report.unchanged == [waiting]
    assert list(report.errors) == [broken]
    assert report.subsidies == {filled: Decimal("20.00"), outside: Decimal("0.00")}
    saved = row(lib, filled)
    assert (saved.state, saved.lender, saved.cost_minor, saved.subsidy_minor, saved.subsidy_rule) == (
        "filled", "Hanoi NL", 2000, 2000, "ill:subsidy")
    assert row(lib, outside).subsidy_rule == "ill:outside_field"
    assert saved.history[-1]["note"] == "ill_gateway: ended – filled"
    arrived = notices(lib, "ill_arrived")
    assert sorted(n.payload["title"] for n in arrived) == ["T0", "T1"]
    assert arrived[0].payload["pickup_branch"] == "Jinan University Library" and arrived[0].channel == "email"
    assert row(lib, broken).state == "sent"


@responses.activate
def test_a_transition_the_service_refuses_is_reported_not_forced(lib: Library, gateway: IllGateway) -> None:
    request_id = request(lib)
    responses.post(API, json={"id": "A"})
    send_request(lib, request_id, gateway)
    gateway.spec = IllGatewaySpec.from_mapping({"states": {"delivered": "delivered"}})
    responses.get(API + "/A", json={"status": "delivered"})
    report = poll_sent(lib, gateway)
    assert report.changed == {} and "invalid_state" in report.errors[request_id]
    assert row(lib, request_id).state == "sent"
