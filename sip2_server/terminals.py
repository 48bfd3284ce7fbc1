"""Terminal accounts as the SIP2 adapter sees them: who may log in, to do what, with which wire settings.

Rows live in ``sip2_terminals`` (``ils_bridge.services.terminals``); this
module validates what goes in and turns rows into :class:`Terminal`s.

- ``kind`` gives default allowed operations (a gate may only send 93/99/17);
  ``allowed_ops`` overrides them per terminal.
- :class:`TerminalSettings` are the per-terminal quirks: encoding, terminator,
  checksums, due-date format, hidden fields, renewal via checkout, language,
  sort bins, idle timeout.  Unset settings fall back to the server's defaults.
- :class:`TerminalDirectory` checks logins.  Verifying a scrypt hash costs
  tens of milliseconds, so a verified (login, password) is remembered as a
  keyed digest until the stored hash changes (password rotated) or the
  terminal is disabled.
"""

from __future__ import annotations

import codecs
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ils_bridge.app import App
from ils_bridge.services import terminals as store
from ils_bridge.services.patrons import verify_secret

from .codec import Codec
from .fields import FIELDS, MESSAGES
from .session import ErrorDetection

REQUEST_IDS = frozenset(m.id for m in MESSAGES.values() if m.response_id is not None)
ALWAYS_ALLOWED = frozenset({"93", "99"})
"""Login and status: every terminal may send them."""

KIND_OPERATIONS: dict[str, frozenset[str]] = {
    "gate": ALWAYS_ALLOWED | {"17"},
    "sorter": ALWAYS_ALLOWED | {"09", "17"},
    "selfcheck": ALWAYS_ALLOWED | {"23", "63", "11", "09", "17", "29", "65", "35", "37", "15", "01"},
    "staff": REQUEST_IDS,
}
TERMINATOR_NAMES = {"CR": "\r", "CRLF": "\r\n"}
DUE_DATE_FORMATS = ("sip2", "sip2-utc", "iso")
PATRON_AUTH_MODES = ("local", "campus")
MIN_IDLE_TIMEOUT = 60.0


class TerminalSettingsError(ValueError):
    """A terminal setting with a value that cannot be used."""


@dataclass(frozen=True)
class TerminalSettings:
    encoding: str = "utf-8"
    terminator: str = "CR"  # CR | CRLF
    checksums: str = "auto"  # auto (mirror the terminal) | always | never
    send_cv_ct_always: bool = False  # alert type and destination on every checkin, not only trapped holds
    due_date_format: str = "sip2"  # sip2 (local time) | sip2-utc | iso (YYYY-MM-DD) | any strftime pattern with %
    hide_fields: tuple[str, ...] = ()  # reply fields never sent to this terminal (e.g. BE, BF, BD)
    renew_via_checkout: bool = False  # a checkout of an item the patron already has renews it
    language: str | None = None  # en | zh | vi; None: the library's language
    sort_bins: Mapping[str, str] = field(default_factory=dict)  # branch code (or "hold", "default") -> CL
    idle_timeout: float = 600.0  # seconds; kiosks send 99 every 5-7 minutes
    check_terminal_password: bool = True  # a non-empty AC must equal the login password
    patron_auth: str | None = None  # local | campus; None: the server's setting
    security_marker: str = "02"  # 18's security marker (02 tattle-tape)
    branch: str | None = None  # where the terminal stands: holds for other branches go in transit

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: TerminalSettings | None = None) -> TerminalSettings:
        """Validate settings given as plain data (config file, CLI, JSON column) over ``base``."""
        base = base or cls()
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TerminalSettingsError(f"unknown terminal setting(s): {', '.join(sorted(unknown))} "
                                        f"(known: {', '.join(sorted(known))})")
        changes = dict(values)
        if "hide_fields" in changes:
            changes["hide_fields"] = tuple(changes["hide_fields"] or ())
        if "sort_bins" in changes:
            changes["sort_bins"] = {str(k): str(v) for k, v in dict(changes["sort_bins"] or {}).items()}
        for name in ("idle_timeout",):
            if name in changes:
                changes[name] = float(changes[name])
        settings = replace(base, **changes)
        settings.validate()
        return settings

    def validate(self) -> None:
        try:
            codecs.lookup(self.encoding)
            Codec(encoding=self.encoding)
        except (LookupError, ValueError) as exc:
            raise TerminalSettingsError(f"encoding: {exc}") from None
        if self.terminator not in TERMINATOR_NAMES:
            raise TerminalSettingsError(f"terminator must be one of {', '.join(TERMINATOR_NAMES)}")
        if self.checksums not in {e.value for e in ErrorDetection}:
            raise TerminalSettingsError(f"checksums must be one of {', '.join(e.value for e in ErrorDetection)}")
        if self.due_date_format not in DUE_DATE_FORMATS and "%" not in self.due_date_format:
            raise TerminalSettingsError(f"due_date_format must be one of {', '.join(DUE_DATE_FORMATS)} or a strftime pattern")
        unknown = [c for c in self.hide_fields if c not in FIELDS and not (len(c) == 2 and c.isalnum())]
        if unknown:
            raise TerminalSettingsError(f"hide_fields: not field identifiers: {', '.join(unknown)}")
        if self.idle_timeout < MIN_IDLE_TIMEOUT:
            raise TerminalSettingsError(f"idle_timeout must be at least {MIN_IDLE_TIMEOUT:.0f} seconds")
        if self.patron_auth is not None and self.patron_auth not in PATRON_AUTH_MODES:
            raise TerminalSettingsError(f"patron_auth must be one of {', '.join(PATRON_AUTH_MODES)}")
        if self.language is not None and not self.language.strip():
            raise TerminalSettingsError("language must not be empty")

    def codec(self, max_line: int) -> Codec:
        return Codec(encoding=self.encoding, terminator=TERMINATOR_NAMES[self.terminator], max_line=max_line)

    @property
    def error_detection(self) -> ErrorDetection:
        return ErrorDetection(self.checksums)


def allowed_operations(kind: str, ops: Iterable[str] = ()) -> frozenset[str]:
    """The request ids a terminal may send: its own list, or its kind's default; login and status always."""
    if kind not in KIND_OPERATIONS:
        raise TerminalSettingsError(f"kind must be one of {', '.join(KIND_OPERATIONS)}")
    chosen = frozenset(ops)
    unknown = chosen - REQUEST_IDS
    if unknown:
        raise TerminalSettingsError(f"not SIP2 request ids: {', '.join(sorted(unknown))}")
    return (chosen or KIND_OPERATIONS[kind]) | ALWAYS_ALLOWED


@dataclass(frozen=True)
class Terminal:
    """A logged-in terminal: everything a handler needs to know about it, read once per session."""

    login: str
    library_code: str
    institution_id: str
    kind: str
    allowed_ops: frozenset[str]
    settings: TerminalSettings

    def may(self, request_id: str) -> bool:
        return request_id in self.allowed_ops


class TerminalDirectory:
    """Terminal accounts: add, rotate, list, disable, and check logins."""

    def __init__(self, app: App, defaults: TerminalSettings | None = None) -> None:
        self.app = app
        self.defaults = defaults or TerminalSettings()
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, tuple[str, bytes]] = {}  # login -> (stored hash, keyed digest of the password)
        self._lock = threading.Lock()

    # -- accounts -----------------------------------------------------------------
    def add(self, library_code: str, login: str, password: str, *, institution_id: str, kind: str = "selfcheck",
            allowed_ops: Iterable[str] = (), settings: Mapping[str, Any] | None = None) -> Terminal:
        ops = sorted(allowed_operations(kind, allowed_ops)) if allowed_ops else []
        TerminalSettings.from_mapping(settings or {}, self.defaults)  # refuse bad settings before storing them
        row = store.add_terminal(self.app, library_code, login, password, institution_id=institution_id, kind=kind,
                                 allowed_ops=ops, settings=dict(settings or {}))
        return self._terminal(row)

    def rotate_password(self, login: str, password: str) -> Terminal:
        return self._terminal(store.rotate_password(self.app, login, password))

    def disable(self, login: str) -> Terminal:
        return self._terminal(store.set_enabled(self.app, login, False))

    def list(self, library_code: str | None = None) -> list[tuple[Terminal, bool]]:
        """Every terminal (of one library) with whether it is enabled."""
        return [(self._terminal(row), row.enabled) for row in store.list_terminals(self.app, library_code)]

    # -- logins ------------------------------------------------------------------------
    def authenticate(self, login: str, password: str) -> Terminal | None:
        """The terminal if the login exists, is enabled and the password is right; else None."""
        row = store.find_terminal(self.app, login)
        if row is None or not row.enabled:
            return None
        digest = hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()
        with self._lock:
            remembered = self._verified.get(login)
        if remembered is None or remembered[0] != row.password_hash or not hmac.compare_digest(remembered[1], digest):
            if not verify_secret(password, row.password_hash):
                return None
            with self._lock:
                self._verified[login] = (row.password_hash, digest)
        return self._terminal(row)

    def current(self, login: str) -> Terminal | None:
        """The account as stored now, or None when it no longer exists or is disabled."""
        row = store.find_terminal(self.app, login)
        return self._terminal(row) if row is not None and row.enabled else None

    def _terminal(self, row: store.TerminalRow) -> Terminal:
        return Terminal(row.login, row.library_code, row.institution_id, row.kind,
                        allowed_operations(row.kind, row.allowed_ops),
                        TerminalSettings.from_mapping(row.settings, self.defaults))
