"""The SRU server: asyncio streams, HTTP/1.1 keep-alive, one ``SruService``.

Routes: ``/<database>`` (and ``/``) answer SRU explain / searchRetrieve /
scan; ``/<database>/daia`` answers DAIA JSON availability (see ``daia``).
Database work runs inline on the event loop on SQLite (short statements; no
thread hop per request is what keeps latency near Zebra's) and in a thread
pool on PostgreSQL (see ``marc.search.offload``; ``threads`` overrides).

Programmatic start/stop::

    server = SruServer(engine, holdings=source, port=8210)
    await server.start(); ...; await server.stop()
    # or, from synchronous code: with BackgroundServer(server): ...
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
from marc.sru import http
from marc.sru.daia import JSON, daia_document
from marc.sru.service import SruService, operation_of

log = logging.getLogger(__name__)
IDLE_TIMEOUT_S = 60.0
PROTOCOL = "sru"


class SruServer(ListeningServer):
    protocol = PROTOCOL
    stream_limit = http.MAX_HEAD

    def __init__(
        self,
        engine: Engine,
        holdings: HoldingsSource | None = None,
        host: str = "127.0.0.1",
        port: int = 8210,
        database: str = "opac",
        library_id: int | None = None,
        title: str = "Library catalogue",
        index: SearchIndex | None = None,
        threads: int | None = None,
        observer: RequestObserver | None = None,
    ) -> None:
        super().__init__(host, port, default_threads(engine) if threads is None else threads, observer)
        self.database = database
        self.holdings = holdings or NoHoldings()
        self.index = index or open_index(engine, library_id)
        self.service = SruService(self.index, self.holdings, database, title, host, port)

    async def start(self) -> None:
        await super().start()
        self.service.port = self.port  # explain and links name the port actually bound

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self._connections.opened()
        try:
            while not self._connections.closing:
                try:
                    request = await asyncio.wait_for(http.read_request(reader), IDLE_TIMEOUT_S)
                except http.HttpError as error:
                    writer.write(http.response(error.status, "text/plain; charset=utf-8", str(error).encode(), False))
                    break
                if request is None:
                    break
                with self._connections.answering() as exchange:
                    writer.write(await self._work.run(self._respond, request, exchange))
                    await writer.drain()
                if not request.keep_alive:
                    break
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # idle, gone, or the server is stopping: just close
        finally:
            self._connections.closed(task)
            writer.close()

    def _respond(self, request: http.Request, exchange: Exchange) -> bytes:
        """The HTTP response to one request; ``exchange`` learns its name and how it ended."""
        head_only = request.method == "HEAD"
        path = request.path.rstrip("/")
        base = "/" + self.database
        try:
            if path in ("", base):
                result = self.service.handle(request.params)
                exchange.message = operation_of(request.params)
                exchange.result = "refused" if result.refused else "ok"
                return http.response(result.status, result.content_type, result.body, request.keep_alive, head_only)
            if path in (base + "/daia", "/daia"):
                status, body = daia_document(request.params, self.index, self.holdings, self.service.title)
                exchange.message, exchange.result = "daia", "ok" if status == 200 else "refused"
                return http.response(status, JSON, body, request.keep_alive, head_only)
            exchange.message, exchange.result = "unknown path", "refused"
            return http.response(404, "text/plain; charset=utf-8", b"no such database\n", request.keep_alive, head_only)
        except Exception:  # a bug must cost one request, never the server
            log.exception("SRU request failed: %s %s", request.path, request.params)
            exchange.result = "error"
            return http.response(500, "text/plain; charset=utf-8", b"internal error\n", False, head_only)


def create_sru_server(engine: Engine, **options: object) -> SruServer:
    """An SRU server, not yet listening (options: see ``SruServer``)."""
    return SruServer(engine, **options)  # type: ignore[arg-type]
