"""Delegated authentication in front of the facade: campus system, cache, fallback, local PIN."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import responses

from ils_bridge.app import Library
from ils_bridge.connectors.authentication import Authenticator
from ils_bridge.connectors.config import ConnectorConfigError
from ils_bridge.reasons import Reason

AUTH = "https://campus.example.edu/api/auth/check"
CONFIG = {"campus_auth": {"base_url": "https://campus.example.edu/api/", "retries": 1, "path": "/auth/check",
                          "body": {"user": "$number", "pass": "$password"}, "response_field": "result.ok"}}


def with_fallback(fallback: str | None) -> dict:
    settings = dict(CONFIG["campus_auth"])
    if fallback is not None:
        settings["fallback"] = fallback
    return {"campus_auth": settings}


@pytest.fixture
def lib(make_library) -> Library:
    library = make_library("jinan")  # sign-in is delegated to the campus-card system
    assert library.register_patron("S1", "Student One", "undergraduate").ok
    assert library.issue_card("S1", "CARD-1", valid_until=dt.date(2030, 1, 1)).ok
    assert library.set_pin("S1", "4321").ok
    return library


@responses.activate
def test_accepted_by_the_campus_system_asked_with_the_patron_number(lib: Library) -> None:
    responses.post(AUTH, json={"result": {"ok": True}})
    outcome = Authenticator.from_config(lib, CONFIG).authenticate("CARD-1", "campus-secret")
    assert outcome.ok and outcome.data["method"] == "campus" and outcome.data["standing"] is None
    assert outcome.data["patron_id"] == lib.patron_account("S1")["patron_id"]
    assert json.loads(responses.calls[0].request.body) == {"user": "S1", "pass": "campus-secret"}


@responses.activate
def test_rejected_by_the_campus_system_is_bad_pin_even_with_the_right_local_pin(lib: Library) -> None:
    responses.post(AUTH, status=401)
    outcome = Authenticator.from_config(lib, with_fallback("local_pin")).authenticate("S1", "4321")
    assert (outcome.ok, outcome.reason) == (False, Reason.BAD_PIN)


@responses.activate
def test_unavailable_is_a_clear_refusal_never_an_accept(lib: Library) -> None:
    responses.post(AUTH, status=503)
    outcome = Authenticator.from_config(lib, CONFIG).authenticate("S1", "campus-secret")
    assert (outcome.ok, outcome.reason) == (False, Reason.AUTH_UNAVAILABLE)
    assert "503" in outcome.data["detail"] and "campus-secret" not in outcome.data["detail"]
    assert outcome.message == Reason.AUTH_UNAVAILABLE.message


@responses.activate
def test_unavailable_falls_back_to_the_local_pin_when_configured(lib: Library) -> None:
    responses.post(AUTH, body="not json")
    auth = Authenticator.from_config(lib, with_fallback("local_pin"))
    right, wrong = auth.authenticate("S1", "4321"), auth.authenticate("S1", "0000")
    assert right.ok and right.data["method"] == "local_pin"
    assert (wrong.ok, wrong.reason) == (False, Reason.BAD_PIN)


@responses.activate
def test_a_recent_campus_login_works_while_the_host_is_down(lib: Library) -> None:
    responses.post(AUTH, json={"result": {"ok": True}})
    auth = Authenticator.from_config(lib, CONFIG)
    assert auth.authenticate("S1", "campus-secret").ok
    responses.replace(responses.POST, AUTH, status=500)
    cached = auth.authenticate("S1", "campus-secret")
    assert cached.ok and cached.data["method"] == "campus_cache"
    assert auth.authenticate("S1", "other").reason == Reason.AUTH_UNAVAILABLE


@responses.activate
def test_unknown_patron_is_refused_without_asking_the_host(lib: Library) -> None:
    outcome = Authenticator.from_config(lib, CONFIG).authenticate("NOBODY", "x")
    assert outcome.reason == Reason.UNKNOWN_PATRON and len(responses.calls) == 0


@responses.activate
def test_an_accepted_patron_who_may_not_borrow_carries_the_standing(lib: Library) -> None:
    assert lib.block_patron("S1", "library rules").ok
    responses.post(AUTH, json={"result": {"ok": "TRUE"}})
    outcome = Authenticator.from_config(lib, CONFIG).authenticate("S1", "campus-secret")
    assert outcome.ok and outcome.data["standing"] == Reason.PATRON_BLOCKED.value


def test_without_campus_settings_the_local_pin_decides(lib: Library) -> None:
    auth = Authenticator.from_config(lib, {})
    assert auth.campus is None
    assert auth.authenticate("CARD-1", "4321").data["method"] == "local_pin"
    assert auth.authenticate("S1", "1234").reason == Reason.BAD_PIN


def test_an_unknown_fallback_is_a_configuration_error(lib: Library) -> None:
    with pytest.raises(ConnectorConfigError, match="fallback must be one of refuse, local_pin"):
        Authenticator.from_config(lib, with_fallback("accept"))
