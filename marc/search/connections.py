"""The open connections of an OPAC server, so that stopping it closes idle
connections at once and lets requests in flight be answered first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

SHUTDOWN_GRACE_S = 10.0


class Connections:
    def __init__(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        self.grace = grace
        self.closing = False
        self._open: set[asyncio.Task] = set()
        self._busy: set[asyncio.Task] = set()

    def opened(self) -> asyncio.Task:
        """Register the calling connection task."""
        task = asyncio.current_task()
        assert task is not None
        self._open.add(task)
        return task

    def closed(self, task: asyncio.Task) -> None:
        self._open.discard(task)
        self._busy.discard(task)

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around the work and the reply for one request: a stop waits for it."""
        task = asyncio.current_task()
        assert task is not None
        self._busy.add(task)
        try:
            yield
        finally:
            self._busy.discard(task)

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
