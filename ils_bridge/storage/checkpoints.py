"""WAL checkpoints of a SQLite file on a thread of their own.

In WAL mode a commit appends pages to the write-ahead log; a checkpoint
copies them back into the database file and syncs both files.  SQLite runs
one by itself inside the commit that takes the log past 1,000 pages, so every
few dozen calls one checkout waited 20-60 ms for the disk (a SIP2 p99 of
20 ms and more, measured).  Connections made here turn that off, and a
``Checkpointer`` thread runs a PASSIVE checkpoint every ``INTERVAL`` seconds
instead: it never waits for a reader or a writer, and takes no lock a call
needs, so the calls only ever write the log.

A PASSIVE checkpoint copies the log but cannot start it over while calls keep
appending to it; so once the log is longer than ``RESTART_PAGES`` a RESTART
checkpoint follows, which holds new writers back for the little the passive
one left (a few milliseconds) and lets the next commit write from the start
of the log again.  It waits at most ``BUSY_MS`` for a writer or a reader to
finish, and otherwise tries again next time; past ``FORCE_PAGES`` (writers
that never pause, a bulk import) it waits up to ``FORCE_BUSY_MS``, so the log
stays bounded.

Another process on the same file (a second server, a CLI command) checkpoints
with its own thread; SQLite lets one checkpoint run at a time, and one that
finds another running simply does nothing.  A process that ends without
closing its database leaves the log to the next checkpoint, by any process.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

INTERVAL = 0.2  # seconds between checkpoints: the log holds a fraction of a second of writes
RESTART_PAGES = 10000  # about 40 MB of log: fewer restarts, each holding writers back for a moment
BUSY_MS = 50
FORCE_PAGES = 25000  # about 100 MB of log
FORCE_BUSY_MS = 2000

log = logging.getLogger("ils_bridge.storage")


class Checkpointer:
    """Checkpoints ``path`` every ``interval`` seconds until ``close``."""

    def __init__(self, path: str, interval: float | None = None):
        self.path = path
        self.interval = INTERVAL if interval is None else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_MS / 1000)
        except sqlite3.Error as exc:  # the database's own connections will report the same, more usefully
            log.warning("no WAL checkpoints for %s: %s", self.path, exc)
            return
        try:
            while not self._stop.wait(self.interval):
                checkpoint(conn)
            checkpoint(conn)  # what the last calls wrote
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def checkpoint(conn: sqlite3.Connection) -> None:
    """A PASSIVE checkpoint (as much of the log as no reader still needs), and a RESTART one when the log has
    grown long.  A file that is locked or busy (another checkpoint, a long reader) is left for the next time;
    any other failure is logged and retried next time."""
    try:
        # A connection that once found the file not in WAL mode (empty, before the schema) keeps thinking so
        # until it reads again: read the header first.
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        _, log_pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if log_pages > RESTART_PAGES:
            conn.execute(f"PRAGMA busy_timeout={FORCE_BUSY_MS if log_pages > FORCE_PAGES else BUSY_MS}")
            conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            log.warning("WAL checkpoint failed: %s", exc)
