"""Terminal accounts and settings: validation, kinds' default operations, password checks, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy
from click.testing import CliRunner

from ils_bridge.app import App
from ils_bridge.cli.main import cli
from ils_bridge.storage.schema import metadata
from sip2_server.config import Sip2Settings
from sip2_server.handlers.item_status_update import item_changes
from sip2_server.handlers.patron_information import item_range
from sip2_server.message import Message
from sip2_server.terminals import (
    TerminalDirectory,
    TerminalSettings,
    TerminalSettingsError,
    allowed_operations,
)
from tests.sip2.sip2_world import make_library


@pytest.fixture
def sqlite_app(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'terminals.db'}"
    engine = sqlalchemy.create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    app = App.open(url)
    make_library(app, "xuzhou")
    yield app
    app.close()


@pytest.mark.parametrize("settings,problem", [
    ({"encoding": "utf-16"}, "ASCII-compatible"),
    ({"encoding": "klingon"}, "encoding"),
    ({"terminator": "LF"}, "terminator"),
    ({"checksums": "sometimes"}, "checksums"),
    ({"idle_timeout": 5}, "idle_timeout"),
    ({"due_date_format": "weekday"}, "due_date_format"),
    ({"hide_fields": ["not a field"]}, "hide_fields"),
    ({"patron_auth": "ldap"}, "patron_auth"),
    ({"colour": "red"}, "unknown terminal setting"),
])
def test_bad_settings_are_refused_with_the_setting_named(settings, problem):
    with pytest.raises(TerminalSettingsError, match=problem):
        TerminalSettings.from_mapping(settings)


def test_settings_layer_over_defaults():
    defaults = TerminalSettings.from_mapping({"encoding": "cp850", "language": "vi"})
    settings = TerminalSettings.from_mapping({"language": "en", "hide_fields": ["BE"]}, defaults)
    assert (settings.encoding, settings.language, settings.hide_fields) == ("cp850", "en", ("BE",))
    assert settings.idle_timeout > 7 * 60
    assert settings.codec(8192).encoding == "cp850"


def test_kinds_give_default_operations_and_login_status_are_always_allowed():
    assert allowed_operations("gate") == {"93", "99", "17"}
    assert allowed_operations("selfcheck", ["11"]) == {"93", "99", "11"}
    assert "19" in allowed_operations("staff")
    with pytest.raises(TerminalSettingsError):
        allowed_operations("robot")
    with pytest.raises(TerminalSettingsError):
        allowed_operations("gate", ["42"])


def test_server_settings_from_a_file(tmp_path):
    path = tmp_path / "ils.yaml"
    path.write_text("sip2:\n  workers: 4\n  terminal_defaults: {language: zh}\n  sort_bins: {xuzhou: {main: A}}\n")
    settings = Sip2Settings.from_file(path)
    assert (settings.workers, settings.terminal_defaults.language, settings.sort_bins["xuzhou"]["main"]) == (4, "zh", "A")
    path.write_text("sip2:\n  sort_bins: {main: A}\n")
    with pytest.raises(TerminalSettingsError, match="sort_bins"):
        Sip2Settings.from_file(path)


def test_accounts_hash_passwords_and_check_them(sqlite_app):
    directory = TerminalDirectory(sqlite_app)
    directory.add("xuzhou", "kiosk-1", "s3cret", institution_id="XZ", settings={"language": "en"})
    with sqlite_app.db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM sip2_terminals").scalar()
    assert "s3cret" not in stored and stored.startswith("scrypt$")
    assert directory.authenticate("kiosk-1", "s3cret").library_code == "xuzhou"
    assert directory.authenticate("kiosk-1", "wrong") is None
    assert directory.authenticate("nobody", "s3cret") is None
    with pytest.raises(ValueError, match="already exists"):
        directory.add("xuzhou", "kiosk-1", "x", institution_id="XZ")
    with pytest.raises(TerminalSettingsError):
        directory.add("xuzhou", "kiosk-2", "x", institution_id="XZ", settings={"terminator": "??"})
    assert [t.login for t, _ in directory.list("xuzhou")] == ["kiosk-1"]


def test_terminals_cli(sqlite_app, tmp_path):
    runner = CliRunner()
    base = ["--database", str(sqlite_app.db.url), "--library", "xuzhou"]
    added = runner.invoke(cli, [*base, "--json", "terminals", "add", "gate-1", "--password", "pw", "--institution", "XZ",
                                "--kind", "gate", "--set", "language=en", "--set", "hide_fields=[BE, BF]"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["allowed_ops"] == ["17", "93", "99"]
    listed = runner.invoke(cli, [*base, "--json", "terminals", "list"])
    assert [row["login"] for row in json.loads(listed.output)] == ["gate-1"]
    assert runner.invoke(cli, [*base, "terminals", "rotate-password", "gate-1", "--password", "pw2"]).exit_code == 0
    assert runner.invoke(cli, [*base, "terminals", "disable", "gate-1"]).exit_code == 0
    directory = TerminalDirectory(App.open(str(sqlite_app.db.url)))
    assert directory.authenticate("gate-1", "pw2") is None  # disabled
    bad = runner.invoke(cli, [*base, "terminals", "add", "g2", "--password", "x", "--institution", "XZ", "--set", "nope"])
    assert bad.exit_code == 2 and "name=value" in bad.output


def test_item_status_update_properties():
    assert item_changes("stacks-2") == {"location": "stacks-2"}
    assert item_changes("location=A; status=missing") == {"location": "A", "status": "missing"}
    assert item_changes("request_key=x") is None and item_changes("=x") is None and item_changes("") is None


def test_item_range_is_one_based_and_inclusive():
    request = Message("63", {}).add("BP", "2").add("BQ", "4")
    assert list(range(10))[item_range(request, 10)] == [1, 2, 3]
    assert list(range(3))[item_range(Message("63", {}), 3)] == [0, 1, 2]
    assert list(range(3))[item_range(Message("63", {}).add("BP", "x"), 3)] == [0, 1, 2]
