"""What `ils-bridge connectors check` reports: is an endpoint reachable and answering as agreed?"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ils_bridge.connectors.http import ConnectorError, HttpClient


@dataclass(frozen=True)
class CheckResult:
    """One endpoint's answer to a check.  ``detail`` is safe to show: credentials are masked."""

    connector: str
    url: str
    ok: bool
    detail: str


def run_check(client: HttpClient, path: str, probe: Callable[[], str]) -> CheckResult:
    """Run ``probe`` (which returns a success detail or raises); turn failures into a failed result."""
    url = client.masked(client.base_url.rstrip("/") + "/" + path.lstrip("/"))
    try:
        return CheckResult(client.name, url, True, probe())
    except ConnectorError as exc:
        return CheckResult(client.name, url, False, f"{type(exc).__name__}: {exc}")


def check_health(client: HttpClient, health_path: str | None) -> CheckResult:
    """GET the configured health path and expect a 2xx; without one, say so rather than guess."""
    if not health_path:
        return CheckResult(client.name, client.masked(client.base_url), False, "no health_path configured")

    def probe() -> str:
        response = client.request("GET", health_path)
        return f"HTTP {response.status_code}"

    return run_check(client, health_path, probe)
