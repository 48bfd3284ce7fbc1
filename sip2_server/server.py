"""The asyncio SIP2 server: connections, framing, error recovery, logging, shutdown.

Per connection it reads frames, decodes them with the session's codec, hands
each request to the dispatcher and writes the reply, strictly one request at
a time (SIP2 is lock-step).  Itself it answers only what needs no handler:

- 97 Request ACS Resend: the last frame sent on this connection, verbatim;
- anything unreadable (bad checksum, unknown id, short fixed fields, bad
  encoding, over-long line, garbage), a request no handler answers, and a
  handler failure: 96 Request SC Resend, so the terminal retries within the
  retry limit it got in the 98 ACS Status;
- a request the dispatcher cannot serve now (``ServiceUnavailable``: the
  database is down): the reply the dispatcher built for it (ok=0 and a screen
  message), logged as a warning without a traceback.

A reply is written only after the dispatcher returned it, and the
dispatcher's services return only after their transaction committed: a
terminal never sees an acknowledgement of something the database does not
hold.  An optional :class:`RequestObserver` (``ils_bridge.ops.metrics``)
is told every request's message type, result and latency.

Every message in and out is logged on the ``sip2_server.wire`` logger with
secrets masked; the structured details are in the record's ``sip2`` attribute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, Self

from . import errors
from .codec import Codec
from .dispatch import Dispatcher, NoHandler, ServiceUnavailable
from .fields import REQUEST_ACS_RESEND, REQUEST_SC_RESEND
from .framing import LineFramer
from .message import Message
from .redact import describe, describe_raw, mask_secrets
from .session import ErrorDetection, Session

log = logging.getLogger("sip2_server")
wire_log = logging.getLogger("sip2_server.wire")

DEFAULT_IDLE_TIMEOUT = 600.0
"""Seconds of silence before a connection is closed: above the 5-7 minutes between kiosk 99s."""
PROTOCOL = "sip2"
OK_FLAGS = ("ok", "payment_accepted")
"""Reply fixed fields that say whether the request was done (1/Y) or refused."""


class RequestObserver(Protocol):
    """Told about every request and connection (``ils_bridge.ops.metrics.RequestMetrics`` is one)."""

    def observe(self, protocol: str, message: str, result: str, seconds: float) -> None: ...

    def connection_opened(self, protocol: str) -> None: ...

    def connection_closed(self, protocol: str) -> None: ...


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 6001
    ssl: ssl.SSLContext | None = None
    codec: Codec = field(default_factory=Codec)
    error_detection: ErrorDetection = ErrorDetection.AUTO
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    shutdown_grace: float = 30.0
    """How long :meth:`Sip2Server.close` waits for in-flight transactions."""
    read_size: int = 65536
    backlog: int = 512
    """Pending connections the OS queues: a whole floor of kiosks may reconnect at once."""
    reuse_port: bool = False
    """SO_REUSEPORT: several server processes listen on the same port and the kernel spreads new
    connections among them (Linux); each process is a server of its own on the shared database."""

    def __post_init__(self) -> None:
        if self.idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive")


class _Connection:
    """One client: its session, the task serving it, and whether it is mid-transaction."""

    def __init__(self, session: Session, task: asyncio.Task[None]) -> None:
        self.session = session
        self.task = task
        self.busy = False


class _IdleWatch:
    """Cancels a connection's task after ``timeout()`` seconds without a frame from the client.

    One timer per connection, moved only when it fires: a read just notes the
    time.  (A timer per read, as ``asyncio.timeout`` around each read sets up
    and cancels, cost more than the read on the gate path.)  ``timeout`` is
    asked again at each firing and after each request, since a login changes it.
    """

    def __init__(self, conn: _Connection, timeout: Callable[[], float]) -> None:
        self._conn = conn
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self.last_heard = self._loop.time()
        self.expired = False
        self._armed_for = timeout()
        self._timer = self._loop.call_at(self.last_heard + self._armed_for, self._fire)

    def heard(self) -> None:
        self.last_heard = self._loop.time()

    def settings_may_have_changed(self) -> None:
        if self._timeout() != self._armed_for:
            self._rearm()

    def cancel(self) -> None:
        self._timer.cancel()

    def _rearm(self) -> None:
        self._timer.cancel()
        self._armed_for = self._timeout()
        self._timer = self._loop.call_at(self.last_heard + self._armed_for, self._fire)

    def _fire(self) -> None:
        if self._loop.time() - self.last_heard >= self._armed_for and not self._conn.busy:
            self.expired = True
            self._conn.task.cancel()
        else:
            self._rearm()


class Sip2Server:
    def __init__(self, dispatcher: Dispatcher, config: ServerConfig | None = None,
                 observer: RequestObserver | None = None) -> None:
        self.dispatcher = dispatcher
        self.config = config or ServerConfig()
        self.observer = observer
        self._server: asyncio.Server | None = None
        self._connections: dict[int, _Connection] = {}
        self._closing = False

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.config.host, self.config.port, ssl=self.config.ssl,
            limit=self.config.read_size, backlog=self.config.backlog, reuse_port=self.config.reuse_port,
        )
        log.info("SIP2 server listening on %s", ", ".join(map(str, self.addresses)))

    @property
    def addresses(self) -> list[tuple]:
        return [s.getsockname() for s in self._server.sockets] if self._server else []

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        return self.addresses[0][1]

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop accepting, let in-flight transactions finish and reply, then close every connection.

        Idle connections are closed at once; busy ones after their current
        reply, or when ``shutdown_grace`` runs out.
        """
        self._closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections.values()):
            if not conn.busy:
                conn.task.cancel()
        tasks = [c.task for c in self._connections.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.config.shutdown_grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        log.info("SIP2 server stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- one connection ------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        session = Session(peer=str(peer), codec=self.config.codec, error_detection=self.config.error_detection)
        task = asyncio.current_task()
        assert task is not None
        conn = _Connection(session, task)
        self._connections[session.id] = conn
        if self.observer is not None:
            self.observer.connection_opened(PROTOCOL)
        log.info("session %s opened from %s", session.id, peer)
        idle = _IdleWatch(conn, lambda: session.idle_timeout or self.config.idle_timeout)
        try:
            await self._serve(conn, idle, reader, writer)
        except asyncio.CancelledError:
            if idle.expired:
                log.info("session %s idle for %.0f s: closing", session.id, session.idle_timeout or self.config.idle_timeout)
        except (ConnectionError, ssl.SSLError) as exc:
            log.info("session %s: connection lost: %s", session.id, exc)
        except Exception:  # a bug here must cost one connection, never the server
            log.exception("session %s: dropped after an unexpected error", session.id)
        finally:
            idle.cancel()
            del self._connections[session.id]
            if self.observer is not None:
                self.observer.connection_closed(PROTOCOL)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
                await writer.wait_closed()
            log.info("session %s closed after %s requests", session.id, session.requests)

    async def _serve(self, conn: _Connection, idle: _IdleWatch, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        session = conn.session
        framer = LineFramer(session.codec.max_line)
        read_size = self.config.read_size
        while not self._closing:
            data = await reader.read(read_size)
            if not data:
                return
            idle.heard()
            conn.busy = True
            try:
                for frame in framer.feed(data):
                    reply = await self._respond(session, frame)
                    if reply is not None:
                        session.last_reply = reply
                        writer.write(reply)
                        await writer.drain()
                    if self._closing:
                        return
            finally:
                conn.busy = False
            idle.settings_may_have_changed()

    # -- one request -------------------------------------------------------------------

    async def _respond(self, session: Session, frame: bytes | errors.LineTooLong) -> bytes | None:
        """The bytes to send for one frame (None: send nothing), timed and counted by the observer."""
        started = time.perf_counter()
        data, message, result = await self._answer(session, frame)
        if self.observer is not None:
            self.observer.observe(PROTOCOL, message, result, time.perf_counter() - started)
        return data

    async def _answer(self, session: Session, frame: bytes | errors.LineTooLong) -> tuple[bytes | None, str, str]:
        """(bytes to send, the request's message id or "??" if unreadable, result for the observer)."""
        if isinstance(frame, errors.LineTooLong):
            return self._refuse(session, None, frame, "(over-long line)"), "??", "error"
        try:
            request = session.codec.decode(frame)
        except errors.FrameError as exc:
            return self._refuse(session, None, exc, describe_raw(frame)), "??", "error"
        session.note_request(request)
        self._log_message(session, "in", request)
        if request.id == REQUEST_ACS_RESEND:
            return self._resend(session), request.id, "ok"
        try:
            reply, result = await self._dispatch(session, request)
            if reply is None:
                return None, request.id, result
            sequence, checksum = session.reply_trailer(request)
            data = session.codec.encode(reply, sequence=sequence, checksum=checksum)
        except NoHandler as exc:
            return self._refuse(session, request, exc, describe(request)), request.id, "error"
        except Exception as exc:  # a handler bug must not take the connection down
            log.exception("session %s: handler for %s failed", session.id, request.id)
            return self._refuse(session, request, exc, describe(request)), request.id, "error"
        if wire_log.isEnabledFor(logging.INFO):
            # log what actually went out, in wire form (handlers may give ints, dates...)
            self._log_message(session, "out", session.codec.decode(data))
        return data, request.id, result

    async def _dispatch(self, session: Session, request: Message) -> tuple[Message | None, str]:
        """The dispatcher's reply and how it ended: ok, refused, or unavailable (the dispatcher's own "no")."""
        try:
            reply = await self.dispatcher.handle(session, request)
        except ServiceUnavailable as exc:
            log.warning("session %s: %s unavailable: %s", session.id, request.id, exc)
            return exc.reply, "unavailable"
        return reply, "refused" if reply is not None and _refused(reply) else "ok"

    def _resend(self, session: Session) -> bytes:
        if session.last_reply is None:
            return self._sc_resend(session, None)
        wire_log.info("session %s resends its last reply", session.id,
                      extra={"sip2": {"session": session.id, "direction": "out", "resend": True}})
        return session.last_reply

    def _refuse(self, session: Session, request: Message | None, exc: Exception, shown: str) -> bytes:
        code = getattr(exc, "code", type(exc).__name__)
        detail = mask_secrets(str(exc))  # error texts quote pieces of the frame
        wire_log.warning(
            "session %s in  %s -> 96: %s: %s", session.id, shown, code, detail,
            extra={"sip2": {"session": session.id, "direction": "in", "error": code, "detail": detail}},
        )
        return self._sc_resend(session, request)

    def _sc_resend(self, session: Session, request: Message | None) -> bytes:
        _, checksum = session.reply_trailer(request)
        # 96 never carries a sequence number, even with error detection on.
        return session.codec.encode(Message(REQUEST_SC_RESEND), checksum=checksum)

    def _log_message(self, session: Session, direction: str, message: Message) -> None:
        if not wire_log.isEnabledFor(logging.INFO):
            return  # rendering and masking the message costs more than the check
        text = describe(message)
        wire_log.info(
            "session %s %-3s %s", session.id, direction, text,
            extra={"sip2": {"session": session.id, "terminal": session.terminal, "direction": direction,
                            "message_id": message.id, "sequence": message.sequence, "text": text}},
        )


def _refused(reply: Message) -> bool:
    """Does the reply say no in its ok (or payment accepted) flag?"""
    for name in OK_FLAGS:
        if name in reply.fixed:
            return reply.fixed[name] not in ("1", "Y")
    return False
