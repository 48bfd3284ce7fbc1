"""The Z39.50 target: an asyncio TCP server, one ``Session`` per connection.

Each connection reads one APDU at a time (``codec.ApduReader``), decodes it,
lets the session answer, and writes the response.  Bytes that are not a
request APDU get a Close (protocolError) and the connection is dropped; an
idle connection gets a Close (lackOfActivity).  Database work runs inline on
the event loop on SQLite and in a thread pool on PostgreSQL (see
``marc.search.offload``; ``threads`` overrides).

Programmatic start/stop::

    server = Z3950Server(engine, holdings=source, port=2100)
    await server.start(); ...; await server.stop()
    # from synchronous code: with BackgroundServer(server): ...
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine

from marc.search.availability import HoldingsSource, NoHoldings
from marc.search.connections import Exchange, RequestObserver
from marc.search.index import SearchIndex, open_index
from marc.search.listening import ListeningServer
from marc.search.offload import default_threads
from marc.z3950 import codec
from marc.z3950.session import Authenticator, Session, close_apdu

log = logging.getLogger(__name__)
DEFAULT_PORT = 2100
IDLE_TIMEOUT_S = 600.0
PROTOCOL = "z3950"


class Z3950Server(ListeningServer):
    protocol = PROTOCOL

    def __init__(
        self,
        engine: Engine,
        holdings: HoldingsSource | None = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        databases: tuple[str, ...] = ("Default", "opac"),
        library_id: int | None = None,
        authenticate: Authenticator | None = None,
        index: SearchIndex | None = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
        threads: int | None = None,
        observer: RequestObserver | None = None,
    ) -> None:
        super().__init__(host, port, default_threads(engine) if threads is None else threads, observer)
        self.databases = databases
        self.holdings = holdings or NoHoldings()
        self.index = index or open_index(engine, library_id)
        self.authenticate = authenticate
        self.idle_timeout = idle_timeout

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self._connections.opened()
        session = Session(self.index, self.holdings, self.databases, self.authenticate)
        apdus = codec.ApduReader(reader)
        try:
            while not self._connections.closing:
                try:
                    async with asyncio.timeout(self.idle_timeout):  # no task per APDU, unlike wait_for
                        pdu = await apdus.next()
                except TimeoutError:
                    await self._send(writer, close_apdu("lackOfActivity"))
                    break
                except codec.ProtocolError as error:
                    await self._send(writer, close_apdu("protocolError", str(error)))
                    break
                if pdu is None:
                    break
                with self._connections.answering() as exchange:
                    response, done = await self._work.run(self._answer, session, pdu, exchange)
                    await self._send(writer, response)
                if done:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the origin went away mid-APDU, or the server is stopping
        finally:
            self._connections.closed(task)
            writer.close()

    @staticmethod
    def _answer(session: Session, pdu: bytes, exchange: Exchange) -> tuple[tuple[str, dict], bool]:
        """The response APDU and whether to close; ``exchange`` learns the request's name and how it ended."""
        try:
            name, request = codec.decode_pdu(pdu)
        except codec.ProtocolError as error:
            exchange.result = "refused"
            return close_apdu("protocolError", str(error)), True
        exchange.message = name
        try:
            response, done = session.handle(name, request)
        except Exception:  # a bug costs this association, never the server
            log.exception("Z39.50 %s failed", name)
            return close_apdu("systemProblem", f"internal error handling {name}"), True
        exchange.result = "refused" if _is_refusal(name, response) else "ok"
        return response, done

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, apdu: tuple[str, dict]) -> None:
        writer.write(codec.encode_pdu(*apdu))
        await writer.drain()


def _is_refusal(request: str, response: tuple[str, dict]) -> bool:
    """Whether the answer is a diagnostic or a Close instead of what was asked."""
    name, value = response
    if name == "close":
        return request != "close"
    records = value.get("records")
    return (value.get("searchStatus") is False or value.get("scanStatus") == 6
            or (isinstance(records, tuple) and records[0] == "nonSurrogateDiagnostic"))


def create_z3950_server(engine: Engine, **options: object) -> Z3950Server:
    """A Z39.50 target, not yet listening (options: see ``Z3950Server``)."""
    return Z3950Server(engine, **options)  # type: ignore[arg-type]
