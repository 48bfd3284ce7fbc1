"""The one HTTP client every connector talks through.

What it adds to a bare ``requests.Session``:

- a base URL, so connectors name paths; absolute URLs (next-page links) are
  accepted only on the base URL's own scheme and host, so credentials never
  travel to a host nobody configured;
- separate connect and read timeouts;
- retries with exponential backoff on connection errors, timeouts, 5xx and
  429 (a rate limit is "unavailable right now"); never on other 4xx, which
  would only be refused again.  ``sleep`` is injectable so tests do not wait;
- credentials (bearer token, basic auth or an API-key header) that are masked
  as ``***`` in every log line and exception text, together with any
  per-request secret (a patron's password in a request body);
- three exception types a caller can act on: :class:`ConnectorUnavailable`
  (try later), :class:`ConnectorRejected` (the host said no: 4xx) and
  :class:`ConnectorProtocolError` (the answer is not what was agreed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

log = logging.getLogger(__name__)

MASK = "***"
BODY_EXCERPT_CHARS = 200


class ConnectorError(Exception):
    """Base of every connector failure; ``connector`` names the endpoint."""

    def __init__(self, connector: str, message: str) -> None:
        super().__init__(f"{connector}: {message}")
        self.connector = connector


class ConnectorUnavailable(ConnectorError):
    """The host could not be reached or failed (timeouts, 5xx, 429) after all retries."""


class ConnectorRejected(ConnectorError):
    """The host answered 4xx: the request itself was refused; retrying will not help."""

    def __init__(self, connector: str, message: str, status: int) -> None:
        super().__init__(connector, message)
        self.status = status


class ConnectorProtocolError(ConnectorError):
    """The host answered, but not in the agreed shape (malformed JSON, missing keys)."""


@dataclass(frozen=True)
class Credentials:
    """How requests authenticate.  ``kind``: ``none`` | ``bearer`` | ``basic`` | ``header``."""

    kind: str = "none"
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    header: str = "X-Api-Key"

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.password) if s)

    def apply(self, session: requests.Session) -> None:
        if self.kind == "bearer":
            session.headers["Authorization"] = f"Bearer {self.token}"
        elif self.kind == "basic":
            session.auth = (self.username or "", self.password or "")
        elif self.kind == "header":
            session.headers[self.header] = self.token or ""


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` counts the first try; the n-th retry waits ``backoff * 2**(n-1)`` s, at most ``max_backoff``."""

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("RetryPolicy needs attempts >= 1 and non-negative delays")

    def delay(self, retry_number: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (retry_number - 1))


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every secret replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _is_retryable_status(status: int) -> bool:
    return status >= 500 or status == 429


class HttpClient:
    """A session bound to one host: ``client.get_json("/patrons", params={...})``."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        credentials: Credentials = Credentials(),
        connect_timeout: float = 3.05,
        read_timeout: float = 15.0,
        retry: RetryPolicy = RetryPolicy(),
        verify_tls: bool = True,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry
        self._sleep = sleep
        self._secrets = credentials.secrets()
        self.session = session or requests.Session()
        self.session.verify = verify_tls
        self.session.headers.update(headers or {})
        credentials.apply(self.session)

    def __repr__(self) -> str:
        return f"HttpClient({self.name!r}, {self.base_url!r})"

    def url_for(self, path_or_url: str) -> str:
        """The absolute URL of a path under the base URL, or of a same-host absolute URL."""
        url = urljoin(self.base_url, path_or_url.lstrip("/")) if "://" not in path_or_url else path_or_url
        base, target = urlsplit(self.base_url), urlsplit(url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise ConnectorProtocolError(
                self.name, f"refusing to follow a URL off the configured host: {self.masked(url)}"
            )
        return url

    def masked(self, text: str, extra_secrets: Iterable[str] = ()) -> str:
        return mask(text, (*self._secrets, *extra_secrets))

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        secrets: Iterable[str] = (),
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request with retries; return the 2xx/3xx response or raise.

        ``secrets`` are extra values (e.g. a password in the body) to mask in
        errors and logs.  Other keyword arguments go to ``requests`` as is.
        """
        secrets = tuple(secrets)
        url = self.url_for(path_or_url)
        shown = self.masked(f"{method} {url}", secrets)
        for attempt in range(1, self.retry.attempts + 1):
            failure = self._attempt(method, url, kwargs, secrets)
            if isinstance(failure, requests.Response):
                log.debug("%s: %s -> %s", self.name, shown, failure.status_code)
                return failure
            log.warning(
                "%s: %s failed (attempt %d/%d): %s",
                self.name,
                shown,
                attempt,
                self.retry.attempts,
                self.masked(failure, secrets),
            )
            if attempt < self.retry.attempts:
                self._sleep(self.retry.delay(attempt))
        raise ConnectorUnavailable(
            self.name, self.masked(f"{shown}: {failure} (after {self.retry.attempts} attempts)", secrets)
        )

    def _attempt(
        self, method: str, url: str, kwargs: dict[str, Any], secrets: tuple[str, ...]
    ) -> requests.Response | str:
        """One try: the response if final, else a description of the retryable failure."""
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            return f"timed out ({type(exc).__name__})"
        except requests.ConnectionError as exc:
            return f"connection failed ({exc})"
        except requests.RequestException as exc:  # broken chunked body, too many redirects...
            return f"request failed ({type(exc).__name__}: {exc})"
        if _is_retryable_status(response.status_code):
            return f"HTTP {response.status_code}"
        if 400 <= response.status_code < 500:
            excerpt = response.text[:BODY_EXCERPT_CHARS]
            raise ConnectorRejected(
                self.name,
                self.masked(f"{method} {url} -> HTTP {response.status_code}: {excerpt}", secrets),
                response.status_code,
            )
        return response

    def request_json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """Like :meth:`request`, but the body must be JSON; returns it decoded."""
        response = self.request(method, path_or_url, **kwargs)
        try:
            return response.json()
        except ValueError:
            excerpt = self.masked(response.text[:BODY_EXCERPT_CHARS], kwargs.get("secrets", ()))
            raise ConnectorProtocolError(
                self.name, f"{method} {path_or_url}: answer is not JSON: {excerpt!r}"
            ) from None

    def get_json(self, path_or_url: str, **kwargs: Any) -> Any:
        return self.request_json("GET", path_or_url, **kwargs)
