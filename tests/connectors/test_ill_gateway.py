"""The regional ILL gateway: submit, state mapping, and recording states on ill_requests."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import responses
import sqlalchemy
from sqlalchemy import insert, select

from ils_bridge.connectors.config import ConnectorConfigError
from ils_bridge.connectors.http import ConnectorProtocolError, HttpClient
from ils_bridge.connectors.ill_gateway import IllGateway, IllGatewaySpec, normalise_state
from ils_bridge.connectors.ill_sync import IllStateError, poll_sent, send_request
from ils_bridge.storage.schema import ill_requests

API = "https://host.example.edu/api/requests"


@pytest.fixture
def gateway(client: HttpClient) -> IllGateway:
    return IllGateway(client, IllGatewaySpec.from_mapping({}))


def add_request(engine: sqlalchemy.Engine, patron_id: int, now: dt.datetime, **values: Any) -> int:
    row = {
        "library_id": 1,
        "patron_id": patron_id,
        "title": "Đại Việt sử ký",
        "kind": "loan",
        "state": "new",
        "field": "history",
        "details": {"isbn": "9786040000000"},
        "created_at": now,
        "updated_at": now,
        "history": [],
        **values,
    }
    with engine.begin() as conn:
        return conn.execute(insert(ill_requests).values(**row)).inserted_primary_key[0]


def request_row(engine: sqlalchemy.Engine, request_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(ill_requests).where(ill_requests.c.id == request_id)).mappings().one()


@pytest.mark.parametrize(
    "wording, state",
    [
        ("sent, no answer yet", "sent"),
        ("Ended – Filled", "filled"),
        ("ended - not  filled", "not_filled"),
        ("ended — not filled", "not_filled"),
    ],
)
@responses.activate
def test_gateway_states_map_to_request_states(gateway: IllGateway, wording: str, state: str) -> None:
    responses.get(API + "/R%2F7", json={"status": wording, "lender": "Hanoi NL", "cost_minor": 1500})
    status = gateway.status("R/7")
    assert (status.state, status.gateway_state, status.lender, status.cost_minor) == (state, wording, "Hanoi NL", 1500)


@responses.activate
@pytest.mark.parametrize(
    "answer, message",
    [
        ({"status": "lost in the post"}, "unknown gateway state"),
        ({}, "no text"),
        ({"status": "ended – filled", "cost_minor": "15.00"}, "must be an integer"),
    ],
)
def test_unexpected_answers_are_protocol_errors(gateway: IllGateway, answer: dict, message: str) -> None:
    responses.get(API + "/R1", json=answer)
    with pytest.raises(ConnectorProtocolError, match=message):
        gateway.status("R1")


def test_configured_states_must_be_request_states() -> None:
    with pytest.raises(ConnectorConfigError, match="not request states: shipped"):
        IllGatewaySpec.from_mapping({"states": {"done": "shipped"}})
    spec = IllGatewaySpec.from_mapping({"states": {"OK": "filled"}})
    assert spec.states == {normalise_state("ok"): "filled"}


@responses.activate
def test_send_request_submits_and_records_sent(engine, gateway: IllGateway, add_patron, now) -> None:
    request_id = add_request(engine, add_patron("2023001"), now)
    responses.post(API, json={"id": "GW-1"})

    assert send_request(engine, request_id, gateway, now) == "GW-1"

    body = json.loads(responses.calls[0].request.body)
    assert body == {
        "request_id": request_id,
        "library": "xuzhou",
        "patron": "2023001",
        "title": "Đại Việt sử ký",
        "kind": "loan",
        "field": "history",
        "details": {"isbn": "9786040000000"},
    }
    assert responses.calls[0].request.headers["Idempotency-Key"] == f"ill:xuzhou:{request_id}"
    saved = request_row(engine, request_id)
    assert (saved["state"], saved["gateway_ref"]) == ("sent", "GW-1")
    assert saved["history"] == [{"at": now.isoformat(), "by": "ill_gateway", "event": "sent", "gateway_ref": "GW-1"}]
    with pytest.raises(IllStateError, match="is sent, not new"):
        send_request(engine, request_id, gateway, now)


@responses.activate
def test_submit_answer_without_reference_changes_nothing(engine, gateway: IllGateway, add_patron, now) -> None:
    request_id = add_request(engine, add_patron("1"), now)
    responses.post(API, json={"ok": True})
    with pytest.raises(ConnectorProtocolError, match="no 'id'"):
        send_request(engine, request_id, gateway, now)
    assert request_row(engine, request_id)["state"] == "new"


@responses.activate
def test_poll_records_state_changes_and_carries_cost(engine, gateway: IllGateway, add_patron, now) -> None:
    patron = add_patron("1")
    filled = add_request(engine, patron, now, state="sent", gateway_ref="A")
    waiting = add_request(engine, patron, now, state="sent", gateway_ref="B")
    broken = add_request(engine, patron, now, state="sent", gateway_ref="C")
    add_request(engine, patron, now, state="delivered", gateway_ref="D")  # not polled
    responses.get(API + "/A", json={"status": "ended – filled", "lender": "Hanoi NL", "cost_minor": 2000})
    responses.get(API + "/B", json={"status": "sent, no answer yet"})
    responses.get(API + "/C", body="<html>")

    report = poll_sent(engine, 1, gateway, now)

    assert report.changed == {filled: "filled"} and report.unchanged == [waiting] and list(report.errors) == [broken]
    row = request_row(engine, filled)
    assert (row["state"], row["lender"], row["cost_minor"], row["subsidy_minor"]) == ("filled", "Hanoi NL", 2000, None)
    assert row["history"][-1]["gateway_state"] == "ended – filled"
    assert request_row(engine, broken)["state"] == "sent" and len(responses.calls) == 3
