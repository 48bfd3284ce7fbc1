"""Discoverability: every staff command has help with an example, reachable from every level."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from ils_bridge.cli.main import cli

STAFF_GROUPS = ("patrons", "cards", "desk", "fees", "deposits", "packages", "ill", "calendar", "jobs", "items", "reports")


def staff_commands() -> list[tuple[str, ...]]:
    paths = [("init",)]
    for name in STAFF_GROUPS:
        group = cli.commands[name]
        assert isinstance(group, click.Group)
        paths += [(name, sub) for sub in group.commands]
    return paths


@pytest.mark.parametrize("path", [(name,) for name in STAFF_GROUPS])
def test_each_group_lists_its_commands(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    for sub in cli.commands[path[0]].commands:
        assert sub in result.output


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    missing = []
    for path in staff_commands():
        result = runner.invoke(cli, [*path, "-h"])
        assert result.exit_code == 0, path
        if "Example" not in result.output or "ils-bridge " + " ".join(path) not in result.output:
            missing.append(" ".join(path))
    assert missing == []
