"""One thread running blocking writes in arrival order: SQLite takes one writer at a time.

Writers racing for SQLite's lock sleep in its busy handler (up to 100 ms a
try), so the server queues its writes here instead, in one thread.  Unlike
``loop.run_in_executor`` on a one-thread pool, a finished write does not
wake the event loop on its own: results are handed back in batches, when
the queue runs empty or the oldest result has waited ``hand_back_after``
seconds.  Waking the loop costs the writer a system call and, on a busy
machine, often its turn on the CPU (the woken loop thread takes the GIL); in
the load bench that was 40 % of the writer thread's time, and the writer is
the serial part of the server.

With ``group`` the writes queued together also share one commit (group
commit): each stays atomic in its own savepoint, and one COMMIT writes the
pages they share (the item's, the audit log's, the indexes') once.

On PostgreSQL several writer threads may take from the one queue
(``threads``): a server process then keeps that many connections busy
instead of one per request in flight, which costs PostgreSQL and the
server far less CPU per transaction than many connections contending.  A
group holds its row locks until it commits, so two groups (in two threads
or two processes) may deadlock: the write that lost is rolled back alone
(``RetryAlone``) and run again on its own once its group has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from ils_bridge.storage.database import Database, Group, RetryAlone

T = TypeVar("T")
_Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[[], Any]]
_Done = tuple[asyncio.Future[Any], Any, BaseException | None]


HAND_BACK_AFTER = 0.002
"""Seconds a finished write's result may wait for later writes before the loop is woken for it."""

GROUP_SIZE = 32
"""Writes queued together that share one commit at most (see ``group``)."""

POSTGRESQL_WRITERS = 2
"""Writer threads per server process on PostgreSQL.  In bench/deployment.py two cost the least CPU per
transaction (servers and PostgreSQL together, half of what a write per pool thread cost); one leaves the
process waiting on round trips, four contend again."""


GroupFactory = Callable[[], contextlib.AbstractContextManager[Group | None]]


class SerialWriter:
    """``group``: a context manager making the writes run inside it one commit (``Database.group``); the
    writer runs the writes queued together in one group and hands their results back only after it ends, so
    no terminal hears of a write before it is durable.  Without one, each write commits on its own.
    ``threads``: writer threads taking from the queue (1: writes run in arrival order, as SQLite needs)."""

    def __init__(self, name: str = "sip2-writer", hand_back_after: float = HAND_BACK_AFTER,
                 group: GroupFactory | None = None, threads: int = 1) -> None:
        self.hand_back_after = hand_back_after
        self._group = group
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(threads)]
        for thread in self._threads:
            thread.start()

    @property
    def threads(self) -> int:
        """How many writer threads take from the queue."""
        return len(self._threads)

    async def run(self, call: Callable[[], T]) -> T:
        """Queue ``call`` behind the writes already queued and await its result (or exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, call))
        return await future

    def close(self) -> None:
        """Run what is queued, then stop the threads."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        if self._group is not None:
            self._work_in_groups(self._group)
            return
        finished: list[tuple[asyncio.AbstractEventLoop, _Done]] = []
        oldest = 0.0
        while (job := self._jobs.get()) is not None:
            loop, future, call = job
            if not future.cancelled():  # else its connection went away before the write started
                finished.append((loop, _outcome(future, call)))
                if len(finished) == 1:
                    oldest = time.monotonic()
            if finished and (self._jobs.empty() or time.monotonic() - oldest >= self.hand_back_after):
                _hand_back(finished)
                finished = []
        _hand_back(finished)

    def _work_in_groups(self, group: GroupFactory) -> None:
        while True:
            jobs, stop = self._queued_together()
            live = [job for job in jobs if not job[1].cancelled()]
            if live:
                _hand_back(_run_group(group, live))
            if stop:
                return

    def _queued_together(self) -> tuple[list[_Job], bool]:
        """The next write (waiting for one) and up to GROUP_SIZE - 1 more already queued; True when closing."""
        first = self._jobs.get()
        if first is None:
            return [], True
        jobs = [first]
        while len(jobs) < GROUP_SIZE and not self._jobs.empty():
            job = self._jobs.get()
            if job is None:
                return jobs, True
            jobs.append(job)
        return jobs, False


def _run_group(group: GroupFactory, jobs: list[_Job]) -> list[tuple[asyncio.AbstractEventLoop, _Done]]:
    """Run the writes in one group; if the group's commit fails, every write in it failed.  A write that lost a
    lock conflict inside the group (``RetryAlone``: nothing of it was kept) runs again on its own afterwards."""
    finished: list[tuple[asyncio.AbstractEventLoop, _Done]] = []
    alone: list[_Job] = []
    try:
        with group() as open_group:
            for loop, future, call in jobs:
                done = _outcome(future, call if open_group is None else functools.partial(open_group.run, call))
                if isinstance(done[2], RetryAlone):
                    alone.append((loop, future, call))
                else:
                    finished.append((loop, done))
    except Exception as exc:  # noqa: BLE001 - the group's commit failed: so did every write kept in it
        rerun = {id(future) for _, future, _ in alone}
        finished = [(loop, (future, None, exc)) for loop, future, _ in jobs if id(future) not in rerun]
    return finished + [(loop, _outcome(future, call)) for loop, future, call in alone]


def _outcome(future: asyncio.Future[Any], call: Callable[[], Any]) -> _Done:
    try:
        return future, call(), None
    except BaseException as exc:  # the awaiting request gets it, as from an executor
        return future, None, exc


def _hand_back(finished: list[tuple[asyncio.AbstractEventLoop, _Done]]) -> None:
    """Wake each loop once for all of its finished writes."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Done]] = {}
    for loop, done in finished:
        by_loop.setdefault(loop, []).append(done)
    for loop, batch in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits these results
            loop.call_soon_threadsafe(_deliver, batch)


def _deliver(batch: list[_Done]) -> None:
    for future, result, error in batch:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def writer_for(db: Database) -> SerialWriter:
    """The writer a server's writes go through: on SQLite one thread (one writer at a time), on PostgreSQL
    ``POSTGRESQL_WRITERS``; group commit wherever ``db`` groups (not in memory)."""
    return SerialWriter(group=db.group, threads=1 if db.is_sqlite else POSTGRESQL_WRITERS)
