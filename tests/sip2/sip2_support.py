"""Test-only helpers: an echo dispatcher and a SIP2 server running in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sip2_server import Message, ServerConfig, Session, Sip2Server
from sip2_server.codec import Codec
from sip2_server.dispatch import NoHandler
from sip2_server.fields import MESSAGES, Kind, supported_messages


def default_fixed(response_id: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for f in MESSAGES[response_id].fixed:
        values[f.name] = {Kind.DATE: datetime(2024, 5, 6, 7, 8, 9), Kind.NUMBER: 0,
                          Kind.FLAG: "N", Kind.TEXT: ""}[f.kind]
    return values


class EchoDispatcher:
    """Answers every request with its response message.

    Required reply fields are copied from the request (or left empty), and a
    screen message AF says which request and patron were seen.  Special
    item ids: AB ``slow`` sleeps first, AB ``boom`` raises.  93 logs the
    terminal in; 99 answers a real-looking 98.
    """

    def __init__(self, delay: float = 0.5) -> None:
        self.delay = delay
        self.seen: list[Message] = []

    async def handle(self, session: Session, message: Message) -> Message | None:
        self.seen.append(message)
        spec = message.spec
        if spec.response_id is None:
            raise NoHandler(f"{message.id} is not a request")
        if message.get("AB") == "slow":
            await asyncio.sleep(self.delay)
        if message.get("AB") == "boom":
            raise RuntimeError("handler failure on purpose")
        if message.id == "99":
            return self._status()
        reply = Message(spec.response_id, default_fixed(spec.response_id))
        if message.id == "93":
            session.terminal = message.get("CN")
            reply.fixed["ok"] = "1"
        for code in MESSAGES[spec.response_id].required_fields:
            reply.add(code, message.get(code, ""))
        if MESSAGES[spec.response_id].variable:
            reply.add("AF", f"echo {message.id} {message.get('AA', '')}")
        return reply

    def _status(self) -> Message:
        fixed = default_fixed("98")
        fixed.update(online_status="Y", checkin_ok="Y", checkout_ok="Y", timeout_period=30,
                     retries_allowed=3, protocol_version="2.00")
        reply = Message("98", fixed)
        reply.add("AO", "test-inst").add("AM", "Test Library")
        reply.add("BX", supported_messages({m.id for m in MESSAGES.values() if m.response_id}))
        return reply


class ThreadedServer:
    """A Sip2Server on 127.0.0.1 with its own event loop in a daemon thread."""

    def __init__(self, dispatcher, loop_factory=asyncio.new_event_loop, **config: object) -> None:
        config.setdefault("port", 0)
        self.server = Sip2Server(dispatcher, ServerConfig(host="127.0.0.1", **config))
        self.loop = loop_factory()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.call(self.server.start())

    def call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    @property
    def port(self) -> int:
        return self.server.port

    def connect(self, timeout: float = 10) -> Client:
        return Client(socket.create_connection(("127.0.0.1", self.port), timeout=timeout))


@contextmanager
def running_server(dispatcher=None, **config: object) -> Iterator[ThreadedServer]:
    server = ThreadedServer(dispatcher or EchoDispatcher(), **config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Client:
    """A blocking line-oriented SIP2 test client (raw bytes in, raw frames out)."""

    def __init__(self, sock: socket.socket, codec: Codec | None = None) -> None:
        self.sock = sock
        self.codec = codec or Codec()
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_frame(self) -> bytes:
        """One frame including its terminator (CR or CRLF)."""
        while b"\r" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed by server; pending {self._buffer!r}")
            self._buffer += chunk
        end = self._buffer.index(b"\r") + 1
        if self._buffer[end:end + 1] == b"\n":
            end += 1
        frame, self._buffer = self._buffer[:end], self._buffer[end:]
        return frame

    def exchange(self, data: bytes) -> bytes:
        self.send(data)
        return self.read_frame()

    def request(self, message: Message, **trailer: object) -> Message:
        return self.codec.decode(self.exchange(self.codec.encode(message, **trailer)))

    def closed_by_server(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


SC_STATUS = Message("99", {"status_code": "0", "max_print_width": "080", "protocol_version": "2.00"})
