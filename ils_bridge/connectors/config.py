"""Connector settings: the ``connectors:`` section of a YAML or TOML file, plus environment overrides.

Layout (YAML shown; TOML uses ``[connectors.patron_sync]`` tables)::

    connectors:
      patron_sync:                 # one section per connector
        base_url: https://campus.example.edu/api/   # required
        connect_timeout: 3.05      # seconds to open the connection (default 3.05)
        read_timeout: 15           # seconds to wait for the answer (default 15)
        retries: 3                 # attempts in all, first try included (default 3)
        backoff: 0.5               # first retry delay in s, doubled each retry (default 0.5)
        max_backoff: 30            # longest retry delay in s (default 30)
        verify_tls: true           # default true
        health_path: /health       # optional: what `connectors check` GETs
        auth:
          type: bearer             # none | bearer | basic | header (default none)
          token_env: CAMPUS_TOKEN  # read the secret from this variable ...
          # token: ...             # ... or give it inline (not recommended)
          # username / username_env, password / password_env   (basic)
          # header: X-Api-Key                                  (header)
        # connector-specific keys: see patron_sync.PatronSyncSpec,
        # campus_auth.CampusAuthSpec, notices.delivery, ill_gateway.IllGatewaySpec
      campus_auth: {...}
      ill_gateway: {...}
      notices:
        gateways:                  # one endpoint section (keys above) per channel
          email: {...}
          sms: {...}
          wechat: {...}

Environment overrides: ``ILS_BRIDGE_CONNECTORS__<SECTION>__<KEY>[__<KEY>...]``
sets one key (names are case-insensitive), e.g.
``ILS_BRIDGE_CONNECTORS__PATRON_SYNC__BASE_URL`` or
``ILS_BRIDGE_CONNECTORS__NOTICES__GATEWAYS__SMS__AUTH__TOKEN``.  Values from
the environment are strings; the typed readers below convert them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from ils_bridge.connectors.http import Credentials, HttpClient, RetryPolicy

ENV_PREFIX = "ILS_BRIDGE_CONNECTORS__"
AUTH_KINDS = ("none", "bearer", "basic", "header")


class ConnectorConfigError(ValueError):
    """A connector setting is missing or has a value that cannot be used."""


def load_connectors_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``connectors:`` section of ``path`` (``.toml`` or YAML) with environment overrides applied."""
    document: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        try:
            document = tomllib.loads(text) if path.suffix == ".toml" else (yaml.safe_load(text) or {})
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise ConnectorConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    section = document.get("connectors", {}) if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise ConnectorConfigError(f"{path}: 'connectors' must be a mapping")
    return apply_env_overrides(section, os.environ if environ is None else environ)


def apply_env_overrides(section: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``section`` with every ``ILS_BRIDGE_CONNECTORS__A__B=v`` set at ``section[a][b]``."""
    merged = _deep_copy(section)
    for name, value in sorted(environ.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = merged
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConnectorConfigError(f"{name}: {key!r} is not a section")
        node[keys[-1]] = value
    return merged


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def section(config: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The nested section ``config[names[0]][names[1]]...``; a clear error if absent."""
    node: Any = config
    for depth, name in enumerate(names):
        if not isinstance(node, Mapping) or name not in node:
            raise ConnectorConfigError(f"missing connector section {'.'.join(names[: depth + 1])!r}")
        node = node[name]
    if not isinstance(node, dict):
        raise ConnectorConfigError(f"connector section {'.'.join(names)!r} must be a mapping")
    return node


def _typed(convert: Callable[[Any], Any], kind: str) -> Callable[[Mapping[str, Any], str, Any], Any]:
    def read(settings: Mapping[str, Any], key: str, default: Any) -> Any:
        value = settings.get(key, default)
        try:
            return convert(value)
        except (TypeError, ValueError):
            raise ConnectorConfigError(f"{key!r} must be {kind}, not {value!r}") from None

    return read


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


read_float = _typed(float, "a number")
read_int = _typed(int, "an integer")
read_bool = _typed(_to_bool, "true or false")


def read_str(settings: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = settings.get(key, default)
    if value is None or str(value) == "":
        raise ConnectorConfigError(f"missing setting {key!r}")
    return str(value)


@dataclass(frozen=True)
class EndpointSettings:
    """Where and how to reach one host endpoint (the keys common to every connector)."""

    name: str
    base_url: str
    credentials: Credentials
    connect_timeout: float = 3.05
    read_timeout: float = 15.0
    retry: RetryPolicy = RetryPolicy()
    verify_tls: bool = True
    health_path: str | None = None

    @classmethod
    def from_mapping(
        cls, name: str, settings: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> EndpointSettings:
        environ = os.environ if environ is None else environ
        try:
            return cls(
                name=name,
                base_url=read_str(settings, "base_url"),
                credentials=_credentials(settings.get("auth") or {}, environ),
                connect_timeout=read_float(settings, "connect_timeout", 3.05),
                read_timeout=read_float(settings, "read_timeout", 15.0),
                retry=RetryPolicy(
                    attempts=read_int(settings, "retries", 3),
                    backoff=read_float(settings, "backoff", 0.5),
                    max_backoff=read_float(settings, "max_backoff", 30.0),
                ),
                verify_tls=read_bool(settings, "verify_tls", True),
                health_path=settings.get("health_path") or None,
            )
        except ValueError as exc:  # ConnectorConfigError, or RetryPolicy refusing its values
            raise ConnectorConfigError(f"connectors.{name}: {exc}") from None

    def client(self, *, sleep: Callable[[float], None] | None = None) -> HttpClient:
        extra = {} if sleep is None else {"sleep": sleep}
        return HttpClient(
            self.name,
            self.base_url,
            credentials=self.credentials,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retry=self.retry,
            verify_tls=self.verify_tls,
            **extra,
        )


def _secret(auth: Mapping[str, Any], key: str, environ: Mapping[str, str]) -> str | None:
    """``auth[key]`` inline, or the variable named by ``auth[key + '_env']``."""
    variable = auth.get(f"{key}_env")
    if variable:
        if variable not in environ:
            raise ConnectorConfigError(f"auth.{key}_env names {variable!r}, which is not set")
        return environ[variable]
    value = auth.get(key)
    return None if value is None else str(value)


def _credentials(auth: Mapping[str, Any], environ: Mapping[str, str]) -> Credentials:
    kind = str(auth.get("type", "none")).lower()
    if kind not in AUTH_KINDS:
        raise ConnectorConfigError(f"auth.type must be one of {', '.join(AUTH_KINDS)}, not {kind!r}")
    credentials = Credentials(
        kind=kind,
        token=_secret(auth, "token", environ),
        username=_secret(auth, "username", environ),
        password=_secret(auth, "password", environ),
        header=str(auth.get("header", "X-Api-Key")),
    )
    if kind in ("bearer", "header") and not credentials.token:
        raise ConnectorConfigError(f"auth.type {kind} needs token or token_env")
    if kind == "basic" and credentials.username is None:
        raise ConnectorConfigError("auth.type basic needs username or username_env")
    return credentials
