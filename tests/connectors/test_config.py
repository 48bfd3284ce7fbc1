"""Connector settings: YAML and TOML files, environment overrides, secrets from variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from ils_bridge.connectors.config import ConnectorConfigError, EndpointSettings, load_connectors_config

YAML = """
connectors:
  patron_sync:
    base_url: https://campus.example.edu/api/
    read_timeout: 20
    retries: 4
    auth: {type: bearer, token_env: CAMPUS_TOKEN}
    path: /patrons
"""

TOML = """
[connectors.patron_sync]
base_url = "https://campus.example.edu/api/"
read_timeout = 20
retries = 4
path = "/patrons"
[connectors.patron_sync.auth]
type = "bearer"
token_env = "CAMPUS_TOKEN"
"""


@pytest.mark.parametrize("suffix, text", [(".yaml", YAML), (".toml", TOML)])
def test_yaml_and_toml_give_the_same_settings(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"ils-bridge{suffix}"
    path.write_text(text)
    config = load_connectors_config(path, environ={})
    endpoint = EndpointSettings.from_mapping("patron_sync", config["patron_sync"], {"CAMPUS_TOKEN": "tok"})
    assert endpoint.base_url == "https://campus.example.edu/api/"
    assert endpoint.read_timeout == 20.0 and endpoint.retry.attempts == 4
    assert endpoint.credentials.kind == "bearer" and endpoint.credentials.token == "tok"


def test_environment_overrides_any_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(YAML)
    environ = {
        "ILS_BRIDGE_CONNECTORS__PATRON_SYNC__BASE_URL": "https://other.example.edu/",
        "ILS_BRIDGE_CONNECTORS__PATRON_SYNC__READ_TIMEOUT": "5",
        "ILS_BRIDGE_CONNECTORS__NOTICES__GATEWAYS__SMS__AUTH__TOKEN": "sms-token",
        "UNRELATED": "x",
    }
    config = load_connectors_config(path, environ=environ)
    endpoint = EndpointSettings.from_mapping("patron_sync", config["patron_sync"], {"CAMPUS_TOKEN": "t"})
    assert endpoint.base_url == "https://other.example.edu/" and endpoint.read_timeout == 5.0
    assert config["notices"]["gateways"]["sms"]["auth"]["token"] == "sms-token"
    assert config["patron_sync"]["path"] == "/patrons"


def test_missing_secret_variable_is_a_clear_error() -> None:
    settings = {"base_url": "https://x/", "auth": {"type": "bearer", "token_env": "NOPE"}}
    with pytest.raises(ConnectorConfigError, match="connectors.patron_sync: .*NOPE.*not set"):
        EndpointSettings.from_mapping("patron_sync", settings, {})


@pytest.mark.parametrize(
    "settings, message",
    [
        ({}, "missing setting 'base_url'"),
        ({"base_url": "https://x/", "read_timeout": "soon"}, "read_timeout.*a number"),
        ({"base_url": "https://x/", "auth": {"type": "kerberos"}}, "auth.type must be one of"),
        ({"base_url": "https://x/", "auth": {"type": "bearer"}}, "needs token"),
        ({"base_url": "https://x/", "verify_tls": "maybe"}, "true or false"),
    ],
)
def test_bad_settings_are_named(settings: dict, message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        EndpointSettings.from_mapping("ill_gateway", settings, {})


def test_broken_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[connectors\nbase_url=")
    with pytest.raises(ConnectorConfigError, match="not valid toml"):
        load_connectors_config(path, environ={})


def test_retry_settings_are_validated() -> None:
    with pytest.raises(ConnectorConfigError, match="connectors.x: RetryPolicy needs attempts >= 1"):
        EndpointSettings.from_mapping("x", {"base_url": "https://x/", "retries": 0}, {})
