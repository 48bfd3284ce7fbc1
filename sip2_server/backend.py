"""What the handlers work with: the service facade, terminal accounts, settings, and a thread pool.

Service calls block (database transactions).  Where each one runs:

- writes (:meth:`Backend.write`): through the writer threads
  (:func:`~sip2_server.writer.writer_for`), which commit the writes waiting
  in their queue as one group (a savepoint each): on SQLite one thread, in
  arrival order, since SQLite takes one writer at a time; on PostgreSQL
  ``POSTGRESQL_WRITERS`` threads (row locks keep them apart; a call that
  loses a deadlock runs again on its own);
- database reads (:meth:`Backend.read`: item and patron information): on
  SQLite in the event loop's own thread.  In WAL mode a reader never waits
  for the writer, and a facade read is Python work that holds the GIL anyway:
  handing it to a thread would only add two thread switches and a loop
  wake-up, and it would wait for the GIL behind the writer.  On PostgreSQL
  reads wait for the network, so they run in the pool;
- other blocking calls (:meth:`Backend.run`: password hashing, the campus
  authentication system over HTTP, account re-reads): in the pool.

State kept here is a cache of what the database holds, bounded so that a
change made by another server process is seen within a known time (see
docs/deployment.md): titles for ``TITLE_TTL`` seconds, library records and
the terminal account of a connection for ``RECHECK_SECONDS``.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ils_bridge.app import App, Library
from ils_bridge.connectors.authentication import Authenticator
from ils_bridge.connectors.campus_auth import CampusAuthenticator

from .config import Sip2Settings
from .terminals import Terminal, TerminalDirectory
from .writer import writer_for

T = TypeVar("T")
TITLE_CACHE_SIZE = 50_000
TITLE_TTL = 600.0
"""Seconds a cached title is used: a title edited elsewhere shows on screens within this time."""
RECHECK_SECONDS = 60.0
"""Seconds between re-reads of a connection's terminal account and its library's record."""
OFFLINE_SECONDS = 15.0
"""After the database could not serve a request, 98 ACS Status says offline for this long (or until a
request succeeds), so kiosks switch to their offline mode instead of trying transactions that fail."""


class TitleCache:
    """Titles by (library, title id): checkout and renew replies need the title (AJ), loans only know its id.

    Titles rarely change and a stale one only shows on a screen, so a bounded
    in-process LRU spares a read per transaction; an entry older than ``ttl``
    seconds is read again, so an edit made by another process shows in time.
    """

    def __init__(self, size: int = TITLE_CACHE_SIZE, ttl: float = TITLE_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._titles: OrderedDict[tuple[str, int], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, library: str, title_id: int) -> str | None:
        with self._lock:
            entry = self._titles.get((library, title_id))
            if entry is None:
                return None
            if self._clock() - entry[1] > self.ttl:
                del self._titles[(library, title_id)]
                return None
            self._titles.move_to_end((library, title_id))
            return entry[0]

    def put(self, library: str, title_id: int, title: str) -> None:
        with self._lock:
            self._titles[(library, title_id)] = (title, self._clock())
            self._titles.move_to_end((library, title_id))
            while len(self._titles) > self.size:
                self._titles.popitem(last=False)


class Backend:
    def __init__(self, app: App, settings: Sip2Settings | None = None, *,
                 campus_auth: CampusAuthenticator | None = None, campus_fallback: str = "refuse") -> None:
        self.app = app
        self.settings = settings or Sip2Settings()
        self.campus_auth = campus_auth
        self.campus_fallback = campus_fallback
        self.terminals = TerminalDirectory(app, self.settings.terminal_defaults)
        self.titles = TitleCache()
        self.recheck_seconds = RECHECK_SECONDS
        self._offline_until = 0.0
        self.executor = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="sip2-service")
        self.writer = writer_for(app.db)
        self.reads_inline = app.db.is_sqlite
        self._libraries: dict[str, Library] = {}
        self._lock = threading.Lock()

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call in the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(call, *args, **kwargs))

    async def read(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a database read that does nothing else (no HTTP, no hashing): in this thread on SQLite."""
        if self.reads_inline:
            return call(*args, **kwargs)
        return await self.run(call, *args, **kwargs)

    async def write(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking service call that writes (one at a time on SQLite) and await its result."""
        return await self.writer.run(functools.partial(call, *args, **kwargs))

    def library(self, code: str) -> Library:
        """The facade of a library (its record read on first use and again by :meth:`recheck`)."""
        library = self._libraries.get(code)  # every request asks: no lock on a hit
        if library is not None:
            return library
        with self._lock:
            if code not in self._libraries:
                self._libraries[code] = self.app.library(code)
            return self._libraries[code]

    def recheck(self, terminal: Terminal) -> Terminal | None:
        """Re-read a logged-in terminal's account and its library's record (blocking: run it in the pool).

        Returns the account as stored now, or None when it was disabled or
        removed meanwhile (the connection must log in again).
        """
        current = self.terminals.current(terminal.login)
        if current is not None:
            fresh = self.app.library(current.library_code)
            with self._lock:
                self._libraries[current.library_code] = fresh
        return current

    @property
    def online(self) -> bool:
        """False for ``OFFLINE_SECONDS`` after the database last failed a request (what 98 tells kiosks)."""
        return time.monotonic() >= self._offline_until

    def database_failed(self) -> None:
        self._offline_until = time.monotonic() + OFFLINE_SECONDS

    def database_served(self) -> None:
        self._offline_until = 0.0

    def authenticator(self, library: Library, mode: str) -> Authenticator:
        """Patron password checks for a library: ``local`` PINs, or the ``campus`` system (never accepting
        when it cannot answer, unless ``connectors.campus_auth.fallback`` is ``local_pin``)."""
        if mode == "campus":
            if self.campus_auth is None:
                raise ValueError("patron_auth is campus but no campus authenticator is configured")
            return Authenticator(library, self.campus_auth, fallback=self.campus_fallback)
        return Authenticator(library)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.writer.close()
