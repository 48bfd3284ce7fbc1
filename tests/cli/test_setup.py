"""`ils-bridge init`: the database and one library per policy file, all or nothing."""

from __future__ import annotations

import sqlalchemy

from ils_bridge.storage.schema import metadata
from tests.cli.conftest import EXAMPLES, Cli


def test_init_creates_a_library_from_each_policy(cli, table_counts):
    report = cli.json("init", "--policy", str(EXAMPLES / "xuzhou.yaml"), "--policy", str(EXAMPLES / "hcmc.yaml"))
    assert [(lib["code"], lib["currency"]) for lib in report["libraries"]] == [("xuzhou", "CNY"), ("hcmc", "VND")]
    assert table_counts()["policy_versions"] == 2
    # Two libraries: commands must say which; the policy's closures are there.
    cli.fails("calendar", "list", code=2, says="--library CODE")
    closures = cli.json("--library", "xuzhou", "calendar", "list")
    assert {c["name"] for c in closures} >= {"National Day", "summer vacation"}


def test_init_again_adds_only_new_libraries(cli, table_counts):
    cli("init", "--policy", str(EXAMPLES / "xuzhou.yaml"))
    before = table_counts()
    cli.fails("init", "--policy", str(EXAMPLES / "hcmc.yaml"), "--policy", str(EXAMPLES / "xuzhou.yaml"),
              code=1, says="library xuzhou already exists")
    assert table_counts() == before
    cli("init", "--policy", str(EXAMPLES / "hcmc.yaml"))
    assert table_counts()["libraries"] == 2


def test_a_broken_policy_file_creates_nothing(cli, tmp_path, table_counts):
    broken = tmp_path / "broken.yaml"
    broken.write_text("policy: ils-bridge/1\nlibrary: [\n", encoding="utf-8")
    line = cli.fails("init", "--policy", str(EXAMPLES / "xuzhou.yaml"), "--policy", str(broken), code=2, says="broken.yaml")
    assert "YAML" in line
    assert table_counts()["libraries"] == 0


def test_missing_or_binary_policy_files_are_one_line_errors(cli, tmp_path, table_counts):
    cli.fails("init", "--policy", str(tmp_path / "nowhere.yaml"), code=2, says="cannot read")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    cli.fails("init", "--policy", str(binary), code=2, says="not UTF-8")
    assert table_counts()["libraries"] == 0


def test_two_files_for_one_library_are_refused(cli, table_counts):
    path = str(EXAMPLES / "xuzhou.yaml")
    cli.fails("init", "--policy", path, "--policy", path, code=2, says="same library: xuzhou")
    assert table_counts()["libraries"] == 0


def test_commands_before_init_say_what_to_do(cli):
    cli.fails("patrons", "list", code=2, says="run ils-bridge init")


def test_a_database_the_migrations_do_not_know_is_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'unmigrated.db'}"
    engine = sqlalchemy.create_engine(url)
    metadata.create_all(engine)  # tables, but no migration history
    engine.dispose()
    runner = Cli(url)
    try:
        runner.fails("init", "--policy", str(EXAMPLES / "xuzhou.yaml"), code=4, says="cannot bring the database schema up to date")
    finally:
        runner.close()


def test_library_option_picks_one_of_several(cli):
    cli("init", "--policy", str(EXAMPLES / "xuzhou.yaml"), "--policy", str(EXAMPLES / "hcmc.yaml"))
    cli("--library", "hcmc", "patrons", "register", "H1", "Le Van", "--type", "reader")
    assert [p["number"] for p in cli.json("--library", "hcmc", "patrons", "list")] == ["H1"]
    assert cli.json("--library", "xuzhou", "patrons", "list") == []
    cli.fails("--library", "nowhere", "patrons", "list", code=3, says="no library with code 'nowhere'")
