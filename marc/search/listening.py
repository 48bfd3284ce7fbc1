"""What the SRU server and the Z39.50 target share: listening on a port, a pool for
blocking database work, the set of open connections, and a graceful stop."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any

from marc.search.connections import Connections, RequestObserver
from marc.search.offload import BlockingWork


class ListeningServer(ABC):
    """Subclasses set ``protocol`` and implement ``_connection(reader, writer)``."""

    protocol: str = ""
    stream_limit: int | None = None  # asyncio's line/buffer limit, when the protocol needs a larger one

    def __init__(self, host: str, port: int, threads: int, observer: RequestObserver | None) -> None:
        self.host = host
        self.port = port
        self.threads = threads
        self.observer = observer
        self._work = BlockingWork(0, self.protocol)
        self._server: asyncio.base_events.Server | None = None
        self._connections = Connections(self.protocol)

    async def start(self) -> None:
        self._work = BlockingWork(self.threads, self.protocol)
        self._connections = Connections(self.protocol, self.observer)
        options: dict[str, Any] = {"limit": self.stream_limit} if self.stream_limit else {}
        self._server = await asyncio.start_server(self._connection, self.host, self.port, **options)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, close idle connections, answer what is in flight, then release the threads."""
        if self._server is None:
            return
        self._server.close()
        await self._connections.close()
        await self._server.wait_closed()
        self._server = None
        self._work.close()

    @abstractmethod
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection (each protocol its own way)."""
