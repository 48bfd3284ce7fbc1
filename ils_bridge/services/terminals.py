"""SIP2 terminal accounts: the rows of ``sip2_terminals`` (storage only; the SIP2 adapter decides what they mean).

A terminal logs in with ``login`` and a password kept as a salted scrypt hash
(``patrons.hash_secret``).  Logins are unique across the database, so a login
alone tells which library a terminal belongs to.  ``allowed_ops`` (SIP2
request ids) and ``settings`` (wire and behaviour settings) are stored as
JSON exactly as the adapter validated them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ils_bridge.app import App, UnknownLibrary
from ils_bridge.services.patrons import hash_secret
from ils_bridge.storage import schema as s


class TerminalExists(ValueError):
    pass


class UnknownTerminal(LookupError):
    pass


@dataclass(frozen=True)
class TerminalRow:
    login: str
    library_code: str
    institution_id: str
    kind: str
    allowed_ops: tuple[str, ...]
    settings: dict[str, Any]
    enabled: bool
    password_hash: str
    created_at: dt.datetime
    rotated_at: dt.datetime | None


_COLUMNS = (s.sip2_terminals, s.libraries.c.code.label("library_code"))


def _query():
    return select(*_COLUMNS).join(s.libraries, s.libraries.c.id == s.sip2_terminals.c.library_id)


def _row(r: Any) -> TerminalRow:
    return TerminalRow(r.login, r.library_code, r.institution_id, r.kind, tuple(r.allowed_ops), dict(r.settings),
                       bool(r.enabled), r.password_hash, r.created_at, r.rotated_at)


def _fetch(conn: Connection, login: str) -> TerminalRow:
    found = conn.execute(_query().where(s.sip2_terminals.c.login == login)).first()
    if found is None:
        raise UnknownTerminal(f"no terminal with login {login!r}")
    return _row(found)


def add_terminal(app: App, library_code: str, login: str, password: str, *, institution_id: str, kind: str,
                 allowed_ops: list[str] | tuple[str, ...], settings: dict[str, Any]) -> TerminalRow:
    if not login.strip() or not password:
        raise ValueError("a terminal needs a login and a password")

    def work(conn: Connection) -> TerminalRow:
        library_id = conn.execute(select(s.libraries.c.id).where(s.libraries.c.code == library_code)).scalar()
        if library_id is None:
            raise UnknownLibrary(f"no library with code {library_code!r}")
        if conn.execute(select(s.sip2_terminals.c.id).where(s.sip2_terminals.c.login == login)).first():
            raise TerminalExists(f"a terminal with login {login!r} already exists")
        conn.execute(insert(s.sip2_terminals).values(
            library_id=library_id, login=login, password_hash=hash_secret(password), institution_id=institution_id,
            kind=kind, allowed_ops=list(allowed_ops), settings=settings, enabled=True, created_at=app.clock.now()))
        return _fetch(conn, login)

    return app.db.transaction(work)


def rotate_password(app: App, login: str, password: str) -> TerminalRow:
    if not password:
        raise ValueError("the new password is empty")
    return _change(app, login, password_hash=hash_secret(password), rotated_at=app.clock.now())


def set_enabled(app: App, login: str, enabled: bool) -> TerminalRow:
    return _change(app, login, enabled=enabled)


def _change(app: App, login: str, **values: Any) -> TerminalRow:
    def work(conn: Connection) -> TerminalRow:
        _fetch(conn, login)
        conn.execute(update(s.sip2_terminals).where(s.sip2_terminals.c.login == login).values(**values))
        return _fetch(conn, login)

    return app.db.transaction(work)


def find_terminal(app: App, login: str) -> TerminalRow | None:
    def work(conn: Connection) -> TerminalRow | None:
        found = conn.execute(_query().where(s.sip2_terminals.c.login == login)).first()
        return None if found is None else _row(found)

    return app.db.read(work)


def list_terminals(app: App, library_code: str | None = None) -> list[TerminalRow]:
    query = _query().order_by(s.libraries.c.code, s.sip2_terminals.c.login)
    if library_code is not None:
        query = query.where(s.libraries.c.code == library_code)
    return app.db.read(lambda conn: [_row(r) for r in conn.execute(query)])
