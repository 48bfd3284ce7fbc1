"""`ils-bridge policy simulate --events FILE`: the file read as the replay goes, with or without --compare."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ils_bridge.cli.main import cli
from tests.conftest import EXAMPLES, example_policy
from tests.core.test_simulation_engines import ScenarioWriter

XUZHOU = str(EXAMPLES / "xuzhou.yaml")


def _simulate(*args: str):
    return CliRunner().invoke(cli, ["policy", "simulate", "--policy", XUZHOU, *args])


def _stricter(tmp_path):
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(example_policy("xuzhou").replace("period_days: 30", "period_days: 9"), encoding="utf-8")
    return str(stricter)


def test_a_file_replays_as_its_lines_do(tmp_path):
    lines = ScenarioWriter("xuzhou", 3).write(transactions=40)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines[:10]) + "\n\n" + "\n".join(lines[10:]) + "\n", encoding="utf-8")  # a blank line
    from_file = _simulate("--events", str(events))
    from_stdin = CliRunner().invoke(cli, ["policy", "simulate", "--policy", XUZHOU, "--events", "-"],
                                    input="\n".join(lines) + "\n")
    assert from_file.exit_code == 0 and from_stdin.exit_code == 0
    assert from_file.stdout == from_stdin.stdout
    assert len(from_file.stdout.splitlines()) == len(lines)


def test_compare_counts_events_and_names_the_engine_that_answered(tmp_path):
    lines = ScenarioWriter("xuzhou", 4, oddity=0).write(transactions=60)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    same = _simulate("--events", str(events), "--compare", XUZHOU)
    assert same.exit_code == 0 and same.stdout == ""
    assert same.stderr.strip() == f"0 of {len(lines)} event(s) change outcome (memory engine)"
    changed = _simulate("--events", str(events), "--compare", _stricter(tmp_path))
    lost = json.dumps({"op": "lost", "at": "2026-06-01T10:00:00+08:00", "item": "B1"})
    events.write_text("\n".join([*lines, lost]) + "\n", encoding="utf-8")  # an op only the SQL engine replays
    moved = _simulate("--events", str(events), "--compare", _stricter(tmp_path))
    by_sql = _simulate("--events", str(events), "--compare", _stricter(tmp_path), "--engine", "sql")
    count = changed.stderr.split()[0]
    assert int(count) > 0 and changed.stderr.strip().endswith(f"of {len(lines)} event(s) change outcome (memory engine)")
    assert moved.stdout == by_sql.stdout and moved.stdout.startswith(changed.stdout)
    assert moved.stderr.strip().endswith(f"of {len(lines) + 1} event(s) change outcome (sql engine)")


def test_a_file_that_is_not_utf8_or_not_there_is_a_clear_error(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b'{"op": "tick", "at": "2026-03-02T10:00:00+08:00"}\n\xff\xfe\n')
    broken = _simulate("--events", str(events))
    missing = _simulate("--events", str(tmp_path / "nothing.jsonl"))
    for result in (broken, missing):
        assert result.exit_code != 0 and "Traceback" not in result.stderr and "cannot read" in result.stderr
