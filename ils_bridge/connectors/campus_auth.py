"""Delegated authentication: is this the patron's campus-card password?  The host decides.

Outcomes are three, never two: ``accepted``, ``rejected`` and ``unavailable``
(the host could not be asked or gave no usable answer).  ``unavailable`` is
never turned into an accept; the caller decides what to tell the patron.

Cache policy: an accepted (number, password) is remembered for
``cache_minutes`` as a salted PBKDF2 hash, never the password itself, so a
patron can log in again while the host is briefly down.  Rejections are not
cached (the patron may have just changed the password), and a rejection drops
the patron's cached entry.

Settings (``connectors.campus_auth``, besides the endpoint keys)::

    method: POST                  # POST | GET | PUT
    path: /auth/check
    send_as: json                 # json | form | query: where the body fields go
    body: {user: "$number", pass: "$password"}    # string.Template placeholders $number, $password
    response_field: result.ok     # dotted path of the verdict in the JSON answer
    accepted_values: [true]       # verdict values meaning "accepted" (compared as lower-case text)
    reject_statuses: [401, 403]   # HTTP statuses meaning "wrong password"; other 4xx are "unavailable"
    cache_minutes: 10             # 0 disables the cache
    fallback: refuse              # read by authentication.Authenticator: refuse | local_pin
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from string import Template
from typing import Any

from ils_bridge.connectors.checks import CheckResult, check_health
from ils_bridge.connectors.config import ConnectorConfigError, read_float, read_str
from ils_bridge.connectors.http import ConnectorError, ConnectorProtocolError, ConnectorRejected, HttpClient
from ils_bridge.connectors.json_fields import MISSING, lookup

SEND_AS = {"json": "json", "form": "data", "query": "params"}  # setting -> requests keyword
HASH_ITERATIONS = 100_000

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class AuthOutcome(str, Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class AuthResult:
    outcome: AuthOutcome
    cached: bool = False
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome is AuthOutcome.ACCEPTED


@dataclass(frozen=True)
class CampusAuthSpec:
    path: str
    method: str = "POST"
    send_as: str = "json"
    body: Mapping[str, Any] = field(default_factory=lambda: {"number": "$number", "password": "$password"})
    response_field: str = "ok"
    accepted_values: frozenset[str] = frozenset({"true"})
    reject_statuses: frozenset[int] = frozenset({401, 403})
    cache_minutes: float = 10.0

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> CampusAuthSpec:
        defaults = cls(path="")
        send_as = str(settings.get("send_as", defaults.send_as))
        if send_as not in SEND_AS:
            raise ConnectorConfigError(f"connectors.campus_auth: send_as must be one of {', '.join(SEND_AS)}")
        return cls(
            path=read_str(settings, "path"),
            method=str(settings.get("method", defaults.method)).upper(),
            send_as=send_as,
            body=dict(settings.get("body") or defaults.body),
            response_field=str(settings.get("response_field", defaults.response_field)),
            accepted_values=frozenset(str(v).lower() for v in settings.get("accepted_values", ["true"])),
            reject_statuses=frozenset(int(s) for s in settings.get("reject_statuses", [401, 403])),
            cache_minutes=read_float(settings, "cache_minutes", defaults.cache_minutes),
        )

    def render_body(self, number: str, password: str) -> dict[str, Any]:
        values = {"number": number, "password": password}
        return {k: Template(v).substitute(values) if isinstance(v, str) else v for k, v in self.body.items()}


@dataclass(frozen=True)
class _Entry:
    salt: bytes
    digest: bytes
    expires: dt.datetime


class PositiveCache:
    """Accepted logins for ``ttl``, kept as salted PBKDF2-SHA256 digests (per process, in memory)."""

    def __init__(self, ttl: dt.timedelta, iterations: int = HASH_ITERATIONS) -> None:
        self.ttl = ttl
        self.iterations = iterations
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _digest(self, password: str, salt: bytes) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, self.iterations)

    def remember(self, number: str, password: str, now: dt.datetime) -> None:
        if self.ttl <= dt.timedelta(0):
            return
        salt = secrets.token_bytes(16)
        with self._lock:
            self._entries[number] = _Entry(salt, self._digest(password, salt), now + self.ttl)

    def matches(self, number: str, password: str, now: dt.datetime) -> bool:
        with self._lock:
            entry = self._entries.get(number)
            if entry is not None and entry.expires <= now:
                del self._entries[number]
                entry = None
        return entry is not None and hmac.compare_digest(entry.digest, self._digest(password, entry.salt))

    def forget(self, number: str) -> None:
        with self._lock:
            self._entries.pop(number, None)

    def stored(self) -> dict[str, tuple[bytes, bytes]]:
        """(salt, digest) per patron number: what the cache holds, for inspection."""
        with self._lock:
            return {number: (e.salt, e.digest) for number, e in self._entries.items()}


class CampusAuthenticator:
    def __init__(
        self,
        client: HttpClient,
        spec: CampusAuthSpec,
        *,
        cache: PositiveCache | None = None,
        clock: Clock = utc_now,
        health_path: str | None = None,
    ) -> None:
        self.client = client
        self.spec = spec
        self.cache = cache or PositiveCache(dt.timedelta(minutes=spec.cache_minutes))
        self.clock = clock
        self.health_path = health_path

    def authenticate(self, number: str, password: str) -> AuthResult:
        if not number or not password:
            return AuthResult(AuthOutcome.REJECTED, detail="empty patron number or password")
        now = self.clock()
        if self.cache.matches(number, password, now):
            return AuthResult(AuthOutcome.ACCEPTED, cached=True)
        result = self._ask_host(number, password)
        if result.outcome is AuthOutcome.ACCEPTED:
            self.cache.remember(number, password, now)
        elif result.outcome is AuthOutcome.REJECTED:
            self.cache.forget(number)
        return result

    def _ask_host(self, number: str, password: str) -> AuthResult:
        spec = self.spec
        body = {SEND_AS[spec.send_as]: spec.render_body(number, password)}
        try:
            answer = self.client.request_json(spec.method, spec.path, secrets=(password,), **body)
        except ConnectorRejected as exc:
            if exc.status in spec.reject_statuses:
                return AuthResult(AuthOutcome.REJECTED, detail=f"host answered HTTP {exc.status}")
            return AuthResult(AuthOutcome.UNAVAILABLE, detail=str(exc))
        except ConnectorError as exc:
            return AuthResult(AuthOutcome.UNAVAILABLE, detail=str(exc))
        verdict = lookup(answer, spec.response_field)
        if verdict is MISSING:
            error = ConnectorProtocolError(self.client.name, f"answer has no {spec.response_field!r}")
            return AuthResult(AuthOutcome.UNAVAILABLE, detail=str(error))
        if str(verdict).lower() in spec.accepted_values:
            return AuthResult(AuthOutcome.ACCEPTED)
        return AuthResult(AuthOutcome.REJECTED, detail=f"host verdict {verdict!r}")

    def check(self) -> CheckResult:
        """Reachability via the health path: a real login would need a real password."""
        return check_health(self.client, self.health_path)
