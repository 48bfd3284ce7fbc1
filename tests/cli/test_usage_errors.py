"""Usage mistakes are one line on stderr with exit code 2, like every other error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ils_bridge.cli.main import cli


@pytest.mark.parametrize("args, says", [
    (["desk", "checkout"], "Missing argument 'PATRON'"),
    (["no-such-command"], "No such command 'no-such-command'"),
    (["policy", "explain", "--patron", "x"], "Missing option '--item'"),
    (["desk", "checkout", "--bogus", "a", "b"], "No such option '--bogus'"),
    (["reports", "circulation", "--period", "fortnight"], "Invalid value for '--period'"),
    (["demo", "--sip2-port", "-5"], "Invalid value for '--sip2-port'"),
])
def test_usage_errors_are_one_line(tmp_path, args, says):
    result = CliRunner().invoke(cli, ["--database", f"sqlite:///{tmp_path / 'x.db'}", *args])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and says in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("command", ["init", "health"])
def test_top_level_commands_too(tmp_path, command):
    result = CliRunner().invoke(cli, ["--database", f"sqlite:///{tmp_path / 'x.db'}", command, "--bogus"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "No such option '--bogus'" in result.stderr
