"""Build connectors from the ``connectors:`` settings, and check them all (``ils-bridge connectors check``).

config = load_connectors_config("ils-bridge.yaml")
client, spec = patron_sync_from_config(config)
report = sync_patrons(engine, library_id, client, spec, changed_since=last_run)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ils_bridge.connectors.campus_auth import CampusAuthenticator, CampusAuthSpec
from ils_bridge.connectors.checks import CheckResult
from ils_bridge.connectors.config import EndpointSettings, section
from ils_bridge.connectors.http import HttpClient
from ils_bridge.connectors.ill_gateway import IllGateway, IllGatewaySpec
from ils_bridge.connectors.notices.gateway import gateways_from_config
from ils_bridge.connectors.patron_sync import PatronSyncSpec
from ils_bridge.connectors.patron_sync import check as check_patron_sync

Sleep = Callable[[float], None]


def _endpoint(config: Mapping[str, Any], name: str, environ: Mapping[str, str] | None) -> EndpointSettings:
    return EndpointSettings.from_mapping(name, section(config, name), environ)


def patron_sync_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None, sleep: Sleep | None = None
) -> tuple[HttpClient, PatronSyncSpec]:
    endpoint = _endpoint(config, "patron_sync", environ)
    return endpoint.client(sleep=sleep), PatronSyncSpec.from_mapping(section(config, "patron_sync"))


def campus_auth_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None, sleep: Sleep | None = None
) -> CampusAuthenticator:
    endpoint = _endpoint(config, "campus_auth", environ)
    spec = CampusAuthSpec.from_mapping(section(config, "campus_auth"))
    return CampusAuthenticator(endpoint.client(sleep=sleep), spec, health_path=endpoint.health_path)


def ill_gateway_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None, sleep: Sleep | None = None
) -> IllGateway:
    endpoint = _endpoint(config, "ill_gateway", environ)
    spec = IllGatewaySpec.from_mapping(section(config, "ill_gateway"))
    return IllGateway(endpoint.client(sleep=sleep), spec, endpoint.health_path)


def check_all(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None, sleep: Sleep | None = None
) -> list[CheckResult]:
    """Check every configured connector; connectors absent from the config are skipped."""
    results: list[CheckResult] = []
    if "patron_sync" in config:
        results.append(check_patron_sync(*patron_sync_from_config(config, environ, sleep)))
    if "campus_auth" in config:
        results.append(campus_auth_from_config(config, environ, sleep).check())
    if "ill_gateway" in config:
        results.append(ill_gateway_from_config(config, environ, sleep).check())
    if "notices" in config:
        gateways = gateways_from_config(section(config, "notices"), environ, sleep=sleep)
        results.extend(gateway.check() for gateway in gateways.values())
    return results
