"""One thread running blocking writes in arrival order: SQLite takes one writer at a time.

Writers racing for SQLite's lock sleep in its busy handler (up to 100 ms a
try), so the server queues its writes here instead, in one thread.  Unlike
``loop.run_in_executor`` on a one-thread pool, a finished write does not
wake the event loop on its own: results are handed back in bursts, one
wake-up for every write that finished while the loop had not yet picked up
the previous ones.  Under load the writer thread (the bottleneck) then
spends its time on writes, not on waking the loop and waiting for the GIL
while the loop runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")
_Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[[], Any]]
_Done = tuple[asyncio.Future[Any], Any, BaseException | None]


class SerialWriter:
    def __init__(self, name: str = "sip2-writer") -> None:
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._finished: dict[asyncio.AbstractEventLoop, list[_Done]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    async def run(self, call: Callable[[], T]) -> T:
        """Queue ``call`` behind the writes already queued and await its result (or exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, call))
        return await future

    def close(self) -> None:
        """Run what is queued, then stop the thread."""
        self._jobs.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, call = job
            if future.cancelled():  # its connection went away before the write started
                continue
            try:
                done: _Done = (future, call(), None)
            except BaseException as exc:  # the awaiting request gets it, as from an executor
                done = (future, None, exc)
            self._hand_back(loop, done)

    def _hand_back(self, loop: asyncio.AbstractEventLoop, done: _Done) -> None:
        with self._lock:
            waiting = self._finished.setdefault(loop, [])
            waiting.append(done)
            wake = len(waiting) == 1  # otherwise a wake-up is on its way and will take this one too
        if wake:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits the result
                loop.call_soon_threadsafe(self._deliver, loop)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            finished = self._finished.pop(loop, [])
        for future, result, error in finished:
            if future.cancelled():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
