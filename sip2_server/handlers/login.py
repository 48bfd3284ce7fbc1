"""93 Login -> 94: check the terminal's account once per connection and apply its wire settings."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from ..backend import Backend
from ..message import Message
from ..session import Session
from .base import flag

REQUEST_ID = "93"


async def handle(backend: Backend, session: Session, request: Message) -> Message:
    login = (request.get("CN") or "").strip()
    password = request.get("CO") or ""
    terminal = await backend.run(backend.terminals.authenticate, login, password) if login else None
    ok = terminal is not None and (session.account is None or session.account.login == terminal.login)
    if ok:
        await backend.run(backend.library, terminal.library_code)  # fail here, not on the first transaction
        settings = terminal.settings
        session.account = terminal
        session.account_read_at = time.monotonic()
        session.terminal = terminal.login
        session.institution = terminal.institution_id
        session.codec = settings.codec(session.codec.max_line)
        session.error_detection = settings.error_detection
        session.idle_timeout = settings.idle_timeout
        key = session.secrets.setdefault("key", secrets.token_bytes(32))
        session.secrets["terminal"] = hmac.new(key, password.encode("utf-8"), hashlib.sha256).digest()
    return Message("94", {"ok": flag("94", "ok", ok)})


def terminal_password_matches(session: Session, password: str) -> bool:
    """Is a request's AC the password this connection logged in with?"""
    key, expected = session.secrets.get("key"), session.secrets.get("terminal")
    if key is None or expected is None:
        return False
    return hmac.compare_digest(hmac.new(key, password.encode("utf-8"), hashlib.sha256).digest(), expected)
