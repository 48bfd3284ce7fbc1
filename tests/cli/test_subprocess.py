"""The real command in its own process, at least once per command group: what a librarian's shell or cron runs.

Starting Python and importing the package dominates, so after the set-up the
independent commands run side by side (SQLite queues their writes).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from ils_bridge.app import App
from tests.cli.conftest import EXAMPLES, start_subprocess


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def finish(process: subprocess.Popen, input: str = "") -> Ran:
    stdout, stderr = process.communicate(input, timeout=120)
    assert "Traceback" not in stderr, stderr
    return Ran(process.returncode, stdout, stderr)


@pytest.fixture
def database(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.db'}"  # no file yet: init creates it


def run(database: str, *args: str, code: int = 0) -> Ran:
    ran = finish(start_subprocess(database, *args))
    assert ran.code == code, f"{args}: exit {ran.code}\n{ran.stdout}\n{ran.stderr}"
    return ran


def run_together(database: str, commands: dict[str, tuple[str, ...]]) -> dict[str, Ran]:
    started = {name: start_subprocess(database, *args) for name, args in commands.items()}
    return {name: finish(process) for name, process in started.items()}


def test_every_group_in_a_real_process(database, tmp_path):
    run(database, "init", "--policy", str(EXAMPLES / "xuzhou.yaml"))
    run(database, "patrons", "register", "P1", "Li Wei", "--type", "phd")
    run(database, "cards", "issue", "P1", "C1", "--valid-until", "2099-01-01")
    title_id = json.loads(run(database, "--json", "items", "add-title", "Gray's Anatomy").stdout)["data"]["title_id"]
    app = App.open(database)
    try:  # set-up for the commands below, through the facade
        library = app.library("xuzhou")
        assert library.add_item("X1", title_id, "zh_book", classification="R44").ok
        at = dt.datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
        assert library.checkout("C1", "X1", at=at).ok
    finally:
        app.close()
    assert "overdue fee 4.00 CNY" in run(database, "desk", "checkin", "X1", "--at", "2026-06-10T10:00").stdout
    report = tmp_path / "circulation.csv"
    ran = run_together(database, {
        "fees": ("--json", "fees", "pay", "P1", "4.00"),
        "deposits": ("deposits", "take", "P1", "50.00"),
        "packages": ("--json", "packages", "list"),
        "ill": ("ill", "request", "P1", "A paper"),
        "calendar": ("calendar", "add-closure", "2026-12-24", "--kind", "closed", "--name", "staff day"),
        "jobs": ("--json", "jobs", "run"),
        "reports": ("reports", "circulation", "--from", "2026-03-01", "--to", "2026-06-30", "--csv", str(report)),
        "bad amount": ("fees", "pay", "P1", "abc"),
    })
    assert [name for name, r in ran.items() if r.code != 0] == ["bad amount"]
    assert json.loads(ran["fees"].stdout)["data"]["balance"] == "0.00"
    assert "deposit now 50.00" in ran["deposits"].stdout
    assert json.loads(ran["packages"].stdout) == []
    assert "ILL request 1 created" in ran["ill"].stdout
    assert "closed 2026-12-24" in ran["calendar"].stdout
    assert json.loads(ran["jobs"].stdout)["ok"] is True
    with report.open(encoding="utf-8") as handle:
        assert sorted((r["period"], r["op"], r["count"]) for r in csv.DictReader(handle)) == [
            ("2026-03", "checkout", "1"), ("2026-06", "checkin", "1")]
    bad = ran["bad amount"]
    assert (bad.code, bad.stdout, bad.stderr) == (2, "", "error: invalid_amount: 'abc' is not a number\n")
