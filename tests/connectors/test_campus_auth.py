"""Delegated authentication: verdicts, the positive-only hashed cache, and "unavailable" never accepting."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import responses

from ils_bridge.connectors.campus_auth import AuthOutcome, CampusAuthenticator, CampusAuthSpec, PositiveCache
from ils_bridge.connectors.http import HttpClient

URL = "https://host.example.edu/api/auth/check"
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
PASSWORD = "campus-pw-8841"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(client: HttpClient, clock: Clock) -> CampusAuthenticator:
    spec = CampusAuthSpec.from_mapping(
        {
            "path": "/auth/check",
            "body": {"user": "$number", "pass": "$password", "app": "library"},
            "response_field": "result.ok",
            "cache_minutes": 10,
        }
    )
    return CampusAuthenticator(
        client, spec, cache=PositiveCache(dt.timedelta(minutes=10), iterations=1000), clock=clock
    )


def verdict(ok: object) -> dict:
    return {"result": {"ok": ok}}


@responses.activate
def test_accepted_sends_configured_body(auth: CampusAuthenticator) -> None:
    responses.post(URL, json=verdict(True))
    result = auth.authenticate("2023001", PASSWORD)
    assert result.outcome is AuthOutcome.ACCEPTED and not result.cached
    assert json.loads(responses.calls[0].request.body) == {"user": "2023001", "pass": PASSWORD, "app": "library"}


@responses.activate
def test_rejected_by_verdict_and_by_401(auth: CampusAuthenticator) -> None:
    responses.post(URL, json=verdict(False))
    responses.post(URL, status=401)
    assert auth.authenticate("2023001", "wrong").outcome is AuthOutcome.REJECTED
    assert auth.authenticate("2023001", "wrong").outcome is AuthOutcome.REJECTED


@responses.activate
def test_positive_result_is_cached_as_salted_hash_for_n_minutes(auth: CampusAuthenticator, clock: Clock) -> None:
    responses.post(URL, json=verdict(True))
    auth.authenticate("2023001", PASSWORD)
    clock.now = T0 + dt.timedelta(minutes=9)
    second = auth.authenticate("2023001", PASSWORD)
    assert second.accepted and second.cached and len(responses.calls) == 1

    [(salt, digest)] = auth.cache.stored().values()
    assert PASSWORD.encode() not in salt + digest and len(salt) == 16
    assert PASSWORD not in repr(auth.cache.__dict__)

    clock.now = T0 + dt.timedelta(minutes=10, seconds=1)
    third = auth.authenticate("2023001", PASSWORD)
    assert third.accepted and not third.cached and len(responses.calls) == 2


@responses.activate
def test_cached_entry_does_not_accept_another_password(auth: CampusAuthenticator) -> None:
    responses.post(URL, json=verdict(True))
    responses.post(URL, json=verdict(False))
    auth.authenticate("2023001", PASSWORD)
    assert auth.authenticate("2023001", "guess").outcome is AuthOutcome.REJECTED
    assert len(responses.calls) == 2


@responses.activate
def test_negative_results_are_not_cached(auth: CampusAuthenticator) -> None:
    responses.post(URL, json=verdict(False))
    responses.post(URL, json=verdict(True))
    assert auth.authenticate("2023001", PASSWORD).outcome is AuthOutcome.REJECTED
    assert auth.authenticate("2023001", PASSWORD).outcome is AuthOutcome.ACCEPTED
    assert len(responses.calls) == 2


@responses.activate
def test_a_rejection_drops_the_cached_entry(auth: CampusAuthenticator, clock: Clock) -> None:
    responses.post(URL, json=verdict(True))
    auth.authenticate("2023001", PASSWORD)
    responses.replace(responses.POST, URL, json=verdict(False))
    auth.authenticate("2023001", "other")
    assert auth.cache.stored() == {}


@responses.activate
@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503},
        {"body": requests.ConnectTimeout("down")},
        {"body": "not json", "content_type": "application/json"},
        {"json": {"unexpected": "shape"}},
        {"status": 400, "body": "bad request"},
    ],
)
def test_endpoint_down_or_garbled_is_unavailable_never_accepted(auth: CampusAuthenticator, failure: dict) -> None:
    responses.post(URL, **failure)
    result = auth.authenticate("2023001", PASSWORD)
    assert result.outcome is AuthOutcome.UNAVAILABLE and not result.accepted
    assert PASSWORD not in result.detail
    assert auth.cache.stored() == {}


@responses.activate
def test_password_echoed_by_host_is_masked_in_detail(auth: CampusAuthenticator) -> None:
    responses.post(URL, status=422, body=f"cannot parse pass={PASSWORD}")
    result = auth.authenticate("2023001", PASSWORD)
    assert result.outcome is AuthOutcome.UNAVAILABLE and PASSWORD not in result.detail and "***" in result.detail


def test_empty_password_is_rejected_without_asking(auth: CampusAuthenticator) -> None:
    with responses.RequestsMock() as mocked:  # any request would fail this test
        assert auth.authenticate("2023001", "").outcome is AuthOutcome.REJECTED
        assert len(mocked.calls) == 0


@responses.activate
def test_query_style_get_endpoint(client: HttpClient) -> None:
    spec = CampusAuthSpec.from_mapping(
        {"path": "/auth", "method": "get", "send_as": "query", "response_field": "status", "accepted_values": ["OK"]}
    )
    responses.get("https://host.example.edu/api/auth", json={"status": "ok"})
    assert CampusAuthenticator(client, spec).authenticate("1", "pw").accepted
    assert "user" not in responses.calls[0].request.url and "number=1" in responses.calls[0].request.url


@responses.activate
def test_check_uses_health_path(client: HttpClient) -> None:
    spec = CampusAuthSpec(path="/auth")
    responses.get("https://host.example.edu/api/health", json={})
    assert CampusAuthenticator(client, spec, health_path="/health").check().ok
    assert not CampusAuthenticator(client, spec).check().ok
