"""WAL checkpoints run on the Checkpointer's thread, not inside the calls' commits (storage/checkpoints.py)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ils_bridge.app import App
from ils_bridge.storage import checkpoints
from ils_bridge.storage.checkpoints import Checkpointer
from tests.conftest import example_policy


def test_calls_leave_checkpoints_to_the_thread(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(checkpoints, "INTERVAL", 3600.0)  # the thread's first checkpoint only on close
    path = tmp_path / "library.db"
    app = App.open(f"sqlite:///{path}", create=True)
    try:
        with app.db._threads.connection() as conn:
            assert conn.connection.dbapi_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        lib = app.create_library(example_policy("xuzhou"), author="tests")
        size_at_start = path.stat().st_size
        for n in range(400):  # well past the 1,000 log pages at which SQLite would checkpoint in a commit
            assert lib.register_patron(f"P{n}", f"Patron {n}", "phd").ok
        assert Path(f"{path}-wal").stat().st_size > 1000 * 4096
        assert path.stat().st_size == size_at_start  # in WAL mode only a checkpoint writes the database file
    finally:
        app.close()
    assert path.stat().st_size > size_at_start  # the thread's last checkpoint, on close


def test_the_thread_checkpoints_a_file_that_became_wal_after_it_connected(tmp_path: Path) -> None:
    path = tmp_path / "late.db"
    checkpointer = Checkpointer(str(path), interval=0.01)  # connects before the file exists
    try:
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("CREATE TABLE t (x)")
        for n in range(200):
            writer.execute("INSERT INTO t VALUES (?)", (n,))
        deadline = time.monotonic() + 10
        while path.stat().st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert path.stat().st_size > 0  # the table reached the database file: the thread checkpointed
        writer.close()
    finally:
        checkpointer.close()
