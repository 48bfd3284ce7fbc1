"""The open connections of an OPAC server: stopping it closes idle connections
at once and lets requests in flight be answered first; an optional observer
(``ils_bridge.ops.metrics.RequestMetrics``) counts connections and times requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

SHUTDOWN_GRACE_S = 10.0


class RequestObserver(Protocol):
    def observe(self, protocol: str, message: str, result: str, seconds: float) -> None: ...

    def connection_opened(self, protocol: str) -> None: ...

    def connection_closed(self, protocol: str) -> None: ...


@dataclass
class Exchange:
    """One request as the observer sees it: the server names it and says how it ended."""

    message: str = "unreadable"
    result: str = "error"  # ok | refused | error


class Connections:
    def __init__(self, protocol: str, observer: RequestObserver | None = None, grace: float = SHUTDOWN_GRACE_S) -> None:
        self.protocol = protocol
        self.observer = observer
        self.grace = grace
        self.closing = False
        self._open: set[asyncio.Task] = set()
        self._busy: set[asyncio.Task] = set()

    def opened(self) -> asyncio.Task:
        """Register the calling connection task."""
        task = asyncio.current_task()
        assert task is not None
        self._open.add(task)
        if self.observer is not None:
            self.observer.connection_opened(self.protocol)
        return task

    def closed(self, task: asyncio.Task) -> None:
        self._open.discard(task)
        self._busy.discard(task)
        if self.observer is not None:
            self.observer.connection_closed(self.protocol)

    @contextmanager
    def answering(self) -> Iterator[Exchange]:
        """Around the work and the reply for one request: a stop waits for it, the observer times it."""
        task = asyncio.current_task()
        assert task is not None
        self._busy.add(task)
        exchange, started = Exchange(), time.perf_counter()
        try:
            yield exchange
        finally:
            self._busy.discard(task)
            if self.observer is not None:
                self.observer.observe(self.protocol, exchange.message, exchange.result, time.perf_counter() - started)

    async def close(self) -> None:
        """Cancel idle connections, give busy ones ``grace`` seconds to reply, then cancel the rest."""
        self.closing = True
        for task in self._open - self._busy:
            task.cancel()
        if self._busy:
            _, late = await asyncio.wait(set(self._busy), timeout=self.grace)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._open, return_exceptions=True)
