"""Run an asyncio server in its own thread: for tests, benches and embedding
next to synchronous code.  The servers themselves are plain asyncio."""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol, Self


class AsyncServer(Protocol):
    port: int

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class BackgroundServer:
    """``with BackgroundServer(server) as s: ... s.port ...``"""

    def __init__(self, server: AsyncServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=type(server).__name__, daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
