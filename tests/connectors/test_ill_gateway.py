"""The regional ILL gateway: submit and state mapping (recording states: test_ill_sync.py)."""

from __future__ import annotations

import pytest
import responses

from ils_bridge.connectors.config import ConnectorConfigError
from ils_bridge.connectors.http import ConnectorProtocolError, HttpClient
from ils_bridge.connectors.ill_gateway import IllGateway, IllGatewaySpec, normalise_state

API = "https://host.example.edu/api/requests"


@pytest.fixture
def gateway(client: HttpClient) -> IllGateway:
    return IllGateway(client, IllGatewaySpec.from_mapping({}))


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
