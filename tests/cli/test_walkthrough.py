"""docs/cli.md's walkthrough, run as written: every command succeeds and prints what the page shows."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.cli.conftest import REPO

DOC = REPO / "docs" / "cli.md"
DOC_DATABASE = "sqlite:///library.db"


def walkthrough() -> list[tuple[list[str], list[str]]]:
    """(arguments, expected output lines) of each `$ ils-bridge ...` line of the walkthrough's console block."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Walkthrough\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL).group(1)
    steps: list[tuple[list[str], list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            words = shlex.split(line[2:])
            if words[0] == "ils-bridge":
                steps.append((words[1:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def test_the_walkthrough_covers_the_story():
    commands = [" ".join(args[:2]) for args, _ in walkthrough()]
    for needed in ("init --policy", "patrons register", "cards issue", "items add-title", "items add", "desk checkout",
                   "desk checkin", "fees pay", "patrons history"):
        assert needed in commands


def test_a_new_user_following_the_walkthrough(cli, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)  # the page's paths are relative to the repository
    for args, expected in walkthrough():
        printed = cli(*args).stdout.replace(cli.database, DOC_DATABASE)
        if expected:
            assert [line.rstrip() for line in printed.splitlines()] == expected, " ".join(args)
    events = cli.json("patrons", "history", "20230001")
    money = [(e["what"], e["amount"]) for e in events if e["what"].startswith("fees:")]
    assert money == [("fees:payment", "-4.00"), ("fees:charge", "4.00")]
    assert [e["what"] for e in events if e["item"] == "X0001"] == ["checkin", "fees:charge", "checkout"]
    account = cli.json("patrons", "show", "20230001")
    assert (account["fees_owed"], account["loans"], account["card"]["number"]) == ("0.00", [], "C20230001")
