"""Where an OPAC server runs its database work: inline on the event loop, or
in a thread pool so a slow statement never stalls the other connections.

SQLite reads in WAL mode take microseconds and never wait for writers, so
inline is fastest there (no thread hop per request).  A PostgreSQL round trip
blocks for a network wait: there the work goes to threads, one pooled
database connection each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine

T = TypeVar("T")
POSTGRES_THREADS = 8


def default_threads(engine: Engine) -> int:
    """0 (inline) on SQLite, a pool elsewhere."""
    return 0 if engine.dialect.name == "sqlite" else POSTGRES_THREADS


class BlockingWork:
    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name) if threads > 0 else None

    async def run(self, work: Callable[..., T], *args: object) -> T:
        if self._pool is None:
            return work(*args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def close(self) -> None:
        """Wait for work in flight (it may still be using the database), then drop the threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
