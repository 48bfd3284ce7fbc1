"""The shared HTTP client: retries, timeouts, 4xx, malformed JSON, credential masking."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from ils_bridge.connectors.http import (
    ConnectorProtocolError,
    ConnectorRejected,
    ConnectorUnavailable,
    Credentials,
    HttpClient,
    RetryPolicy,
)

BASE = "https://host.example.edu/api/"
TOKEN = "s3cr3t-token-value"


@responses.activate
def test_success_returns_decoded_json(client: HttpClient, sleeps: list[float]) -> None:
    responses.get(BASE + "patrons", json={"items": [1, 2]})
    assert client.get_json("/patrons") == {"items": [1, 2]}
    assert sleeps == []


@responses.activate
def test_5xx_then_success_retries_with_exponential_backoff(client: HttpClient, sleeps: list[float]) -> None:
    responses.get(BASE + "x", status=503)
    responses.get(BASE + "x", status=502)
    responses.get(BASE + "x", json={"ok": True})
    assert client.get_json("x") == {"ok": True}
    assert len(responses.calls) == 3
    assert sleeps == [0.5, 1.0]


@responses.activate
def test_5xx_every_time_is_unavailable_after_all_attempts(client: HttpClient, sleeps: list[float]) -> None:
    responses.get(BASE + "x", status=500)
    with pytest.raises(ConnectorUnavailable, match="HTTP 500.*after 3 attempts"):
        client.get_json("x")
    assert len(responses.calls) == 3
    assert sleeps == [0.5, 1.0]


@responses.activate
def test_timeout_is_retried_then_unavailable(client: HttpClient) -> None:
    responses.get(BASE + "x", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(ConnectorUnavailable, match="timed out"):
        client.get_json("x")
    assert len(responses.calls) == 3


@responses.activate
def test_connection_error_then_success(client: HttpClient) -> None:
    responses.get(BASE + "x", body=requests.ConnectionError("refused"))
    responses.get(BASE + "x", json=[])
    assert client.get_json("x") == []


@responses.activate
def test_other_transport_failures_are_unavailable_not_raw_requests_errors(client: HttpClient) -> None:
    responses.get(BASE + "x", body=requests.exceptions.ChunkedEncodingError("connection broken mid-body"))
    with pytest.raises(ConnectorUnavailable, match="ChunkedEncodingError"):
        client.get_json("x")


@responses.activate
def test_timeouts_are_passed_to_requests() -> None:
    client = HttpClient("host", BASE, connect_timeout=2.0, read_timeout=7.0, sleep=lambda s: None)
    responses.get(BASE + "x", json={})
    seen = {}
    original = client.session.request

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    client.session.request = spy
    client.get_json("x")
    assert seen["timeout"] == (2.0, 7.0)


@responses.activate
@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_4xx_is_rejected_without_retry(client: HttpClient, sleeps: list[float], status: int) -> None:
    responses.get(BASE + "x", status=status, body="no such thing")
    with pytest.raises(ConnectorRejected) as caught:
        client.get_json("x")
    assert caught.value.status == status
    assert "no such thing" in str(caught.value)
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_429_counts_as_unavailable_and_is_retried(client: HttpClient) -> None:
    responses.get(BASE + "x", status=429)
    responses.get(BASE + "x", json={"ok": 1})
    assert client.get_json("x") == {"ok": 1}


@responses.activate
def test_malformed_json_is_a_protocol_error(client: HttpClient) -> None:
    responses.get(BASE + "x", body="<html>oops</html>", content_type="application/json")
    with pytest.raises(ConnectorProtocolError, match="not JSON"):
        client.get_json("x")
    assert len(responses.calls) == 1


def test_urls_off_the_configured_host_are_refused(client: HttpClient) -> None:
    with pytest.raises(ConnectorProtocolError, match="off the configured host"):
        client.url_for("https://evil.example.com/api/patrons?page=2")
    assert client.url_for("https://host.example.edu/api/patrons?page=2").endswith("page=2")
    assert client.url_for("/patrons") == BASE + "patrons"


@responses.activate
def test_bearer_token_is_sent_and_masked_in_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    client = HttpClient(
        "host",
        BASE,
        credentials=Credentials("bearer", token=TOKEN),
        retry=RetryPolicy(attempts=2),
        sleep=lambda s: None,
    )
    responses.get(BASE + "x", status=500)
    responses.get(BASE + "y", status=400, body=f"bad token {TOKEN}")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorUnavailable) as unavailable:
        client.get_json(f"x?token={TOKEN}")
    with pytest.raises(ConnectorRejected) as rejected:
        client.get_json("y")
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    for text in (str(unavailable.value), str(rejected.value), caplog.text):
        assert TOKEN not in text
    assert "***" in str(rejected.value) and "***" in caplog.text


@responses.activate
def test_per_request_secrets_are_masked() -> None:
    client = HttpClient("host", BASE, sleep=lambda s: None)
    responses.post(BASE + "auth", status=418, body="you sent password hunter22")
    with pytest.raises(ConnectorRejected) as caught:
        client.request("POST", "auth", json={"p": "hunter22"}, secrets=("hunter22",))
    assert "hunter22" not in str(caught.value)


def test_credentials_repr_hides_secrets() -> None:
    assert TOKEN not in repr(Credentials("bearer", token=TOKEN))
    assert "pw-123" not in repr(Credentials("basic", username="u", password="pw-123"))


@responses.activate
def test_basic_and_header_credentials_are_applied() -> None:
    responses.get(BASE + "x", json={})
    HttpClient("h", BASE, credentials=Credentials("basic", username="lib", password="pw")).get_json("x")
    HttpClient("h", BASE, credentials=Credentials("header", token="k1", header="X-Key")).get_json("x")
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")
    assert responses.calls[1].request.headers["X-Key"] == "k1"
