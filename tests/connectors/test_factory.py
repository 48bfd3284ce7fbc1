"""Building connectors from settings and `connectors check` over all of them."""

from __future__ import annotations

import responses

from ils_bridge.connectors.factory import campus_auth_from_config, check_all

CONFIG = {
    "patron_sync": {
        "base_url": "https://campus.example.edu/api/",
        "path": "/patrons",
        "retries": 1,
        "auth": {"type": "bearer", "token_env": "CAMPUS_TOKEN"},
        "fields": {"number": "sid", "name": "name", "patron_type": "cat"},
    },
    "campus_auth": {
        "base_url": "https://campus.example.edu/api/",
        "path": "/auth",
        "health_path": "/auth/health",
        "retries": 1,
    },
    "ill_gateway": {"base_url": "https://ill.example.org/", "retries": 2},
    "notices": {"gateways": {"sms": {"base_url": "https://sms.example.cn/", "health_path": "/ping", "retries": 1}}},
}
ENV = {"CAMPUS_TOKEN": "tok-123456"}


@responses.activate
def test_check_all_reports_each_endpoint_and_masks_credentials() -> None:
    responses.get("https://campus.example.edu/api/patrons", json={"items": [{"sid": "1", "name": "A", "cat": "UG"}]})
    responses.get("https://campus.example.edu/api/auth/health", json={})
    responses.get("https://sms.example.cn/ping", status=500)
    sleeps: list[float] = []

    results = {r.connector: r for r in check_all(CONFIG, ENV, sleep=sleeps.append)}

    assert results["patron_sync"].ok and results["campus_auth"].ok
    assert not results["notices.sms"].ok and "HTTP 500" in results["notices.sms"].detail
    assert not results["ill_gateway"].ok and "no health_path" in results["ill_gateway"].detail
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok-123456"
    assert all("tok-123456" not in r.detail + r.url for r in results.values())


def test_settings_reach_the_connector() -> None:
    auth = campus_auth_from_config(
        {**CONFIG, "campus_auth": {**CONFIG["campus_auth"], "cache_minutes": "0", "read_timeout": "4"}}, ENV
    )
    assert auth.spec.cache_minutes == 0 and auth.client.timeout == (3.05, 4.0)
