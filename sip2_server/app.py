"""The SIP2 service: the handler registry behind the checks every request passes, and a server factory.

Every request except 93 Login must come from a logged-in terminal, be one
of the operations that terminal may send, name the terminal's own
institution (AO) and, when it carries a terminal password (AC), the one it
logged in with.  A request that fails a check gets its own response message
saying no (the response's ok field) with a screen message, never silence.

When the database cannot be reached (or stays locked through every retry)
the request gets the same kind of "no" with a "system unavailable" screen
message (``ServiceUnavailable``), and the next request tries again: the
server needs no restart when the database comes back.  A connection's
terminal account is re-read every ``Backend.recheck_seconds``: a terminal
disabled elsewhere is logged out, changed settings apply.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from functools import partial

from sqlalchemy.exc import InterfaceError, OperationalError

from ils_bridge.app import App
from ils_bridge.storage.database import DatabaseUnavailable

from .backend import Backend
from .catalog import catalog_for, english
from .codec import DEFAULT_MAX_LINE
from .config import Sip2Settings
from .dispatch import HandlerRegistry, ServiceUnavailable
from .fields import MESSAGES, supported_messages
from .handlers import (
    block_patron,
    checkin,
    checkout,
    end_session,
    fee_paid,
    hold,
    item_information,
    item_status_update,
    login,
    patron_enable,
    patron_information,
    patron_status,
    renew,
    renew_all,
    sc_status,
)
from .handlers.base import Exchange, refusal_reply
from .message import Message
from .server import RequestObserver, ServerConfig, Sip2Server
from .session import Session
from .terminals import ALWAYS_ALLOWED, Terminal

HANDLER_MODULES = (sc_status, patron_status, patron_information, checkout, checkin, item_information, renew,
                   renew_all, end_session, fee_paid, hold, item_status_update, patron_enable, block_patron)
"""One module per message pair; each has ``REQUEST_ID`` and ``async handle(exchange)``."""

ExchangeHandler = Callable[[Exchange], Awaitable[Message]]
UNAVAILABLE_ERRORS = (DatabaseUnavailable, OperationalError, InterfaceError)
"""Errors meaning the database cannot serve now (down, restarting, locked past every retry), not a bug."""

NO_DATABASE = frozenset({sc_status.REQUEST_ID})
"""Requests answered without the database: their success says nothing about it."""

log = logging.getLogger("sip2_server")


class Sip2Service:
    """The dispatcher the server calls: login, the checks, then the request's handler."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.registry = HandlerRegistry()
        self.registry.register(login.REQUEST_ID, partial(login.handle, backend))
        for module in HANDLER_MODULES:
            self.registry.register(module.REQUEST_ID, partial(self._checked, module.handle))
        self.supported = self.registry.supported()

    async def handle(self, session: Session, message: Message) -> Message | None:
        try:
            reply = await self.registry.handle(session, message)
        except UNAVAILABLE_ERRORS as exc:
            self.backend.database_failed()
            raise ServiceUnavailable(_unavailable(session, message), _first_line(exc)) from exc
        if message.id not in NO_DATABASE:
            self.backend.database_served()
        return reply

    async def _checked(self, handler: ExchangeHandler, session: Session, request: Message) -> Message:
        terminal = session.account
        if terminal is not None and time.monotonic() - session.account_read_at > self.backend.recheck_seconds:
            terminal = await self._recheck(session, terminal)
        if terminal is None:
            return _not_logged_in(request)
        exchange = Exchange(self.backend, session, terminal, self.backend.library(terminal.library_code), request,
                            self.supported)
        refusal = _check(exchange)
        reply = refusal if refusal is not None else await handler(exchange)
        return _hide(reply, terminal.settings.hide_fields)

    async def _recheck(self, session: Session, terminal: Terminal) -> Terminal | None:
        """Re-read the account; log the connection out (and forget its verified secrets) if it was disabled."""
        current = await self.backend.run(self.backend.recheck, terminal)
        session.account_read_at = time.monotonic()
        for key in [k for k in session.secrets if k.startswith("patron:")]:
            del session.secrets[key]  # a PIN changed elsewhere must be checked again
        if current is None:
            log.info("session %s: terminal %s was disabled: logged out", session.id, terminal.login)
            session.account = session.terminal = None
            session.secrets.clear()
        else:
            session.account = current
        return current


def _unavailable(session: Session, request: Message) -> Message:
    """The request's "no" with a screen message saying the system is unavailable (98: offline)."""
    terminal = session.account
    catalog = catalog_for(terminal.settings.language) if terminal is not None and terminal.settings.language else english()
    return refusal_reply(request, catalog, catalog.text("system_unavailable"),
                         institution=terminal.institution_id if terminal is not None else "")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check(ex: Exchange) -> Message | None:
    request, terminal = ex.request, ex.terminal
    if not terminal.may(request.id):
        return _refusal(ex, "operation_not_permitted", message=f"{request.id} {request.name}")
    institution = (request.get("AO") or "").strip()
    if institution and institution != terminal.institution_id:
        return _refusal(ex, "wrong_institution", institution=terminal.institution_id)
    password = request.get("AC") or ""
    if password and terminal.settings.check_terminal_password and not login.terminal_password_matches(ex.session, password):
        return _refusal(ex, "wrong_terminal_password")
    return None


def _refusal(ex: Exchange, key: str, **values: str) -> Message:
    return refusal_reply(ex.request, ex.catalog, ex.catalog.text(key, **values), institution=ex.terminal.institution_id,
                         now=ex.now())


def _not_logged_in(request: Message) -> Message:
    reply = refusal_reply(request, english(), english().text("login_required"))
    if reply.id == "98":  # an SC's status before login: offline, and all it may send is login and status
        reply.fields.remove_all("BX")
        reply.add("BX", supported_messages(ALWAYS_ALLOWED | sc_status.ANSWERED_BY_SERVER))
    return reply


def _hide(reply: Message, hidden: tuple[str, ...]) -> Message:
    """Drop fields this terminal must not get; a required one stays, empty."""
    if not hidden:
        return reply
    required = set(MESSAGES[reply.id].required_fields)
    for code in hidden:
        if code in reply.fields:
            reply.fields.remove_all(code)
            if code in required:
                reply.add(code, "")
    return reply


def create_server(app: App, settings: Sip2Settings | None = None, *, host: str = "127.0.0.1", port: int = 6001,
                  tls: ssl.SSLContext | None = None, backend: Backend | None = None,
                  observer: RequestObserver | None = None, reuse_port: bool = False) -> tuple[Sip2Server, Backend]:
    """A SIP2 server on ``app``'s database (not started), and its backend (close it after the server).

    ``observer`` (e.g. ``ils_bridge.ops.metrics.RequestMetrics``) is told every request's type, result and latency.
    ``reuse_port``: other processes may serve the same port (``ServerConfig.reuse_port``).
    """
    backend = backend or Backend(app, settings)
    defaults = backend.settings.terminal_defaults
    config = ServerConfig(host=host, port=port, ssl=tls, codec=defaults.codec(DEFAULT_MAX_LINE),
                          error_detection=defaults.error_detection, idle_timeout=defaults.idle_timeout,
                          reuse_port=reuse_port)
    return Sip2Server(Sip2Service(backend), config, observer), backend
