"""What the handlers work with: the service facade, terminal accounts, settings, and a thread pool.

Service calls block (database transactions), so every one runs in the
backend's thread pool (``workers`` threads, each holding at most one database
connection at a time); the event loop only parses, dispatches and writes.
On PostgreSQL writes run concurrently on that pool (row locks keep them
apart); on SQLite they queue in one writer thread.

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
        # SQLite takes one writer at a time; writers racing for its lock sleep in its busy handler
        # (up to 100 ms a try), so writes queue here instead, in one thread.  Reads stay parallel (WAL).
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="sip2-writer") if app.db.is_sqlite else self.executor
        self._libraries: dict[str, Library] = {}
        self._lock = threading.Lock()

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking read in the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(call, *args, **kwargs))

    async def write(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking service call that writes (one at a time on SQLite) and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.writer, functools.partial(call, *args, **kwargs))

    def library(self, code: str) -> Library:
        """The facade of a library (its record read on first use and again by :meth:`recheck`)."""
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
        self.writer.shutdown(wait=True)
