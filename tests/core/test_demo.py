"""The demo library the README starts with: what it promises vendors must be true."""

from __future__ import annotations

from ils_bridge.app import App
from ils_bridge.demo import CATALOGUES, DEMO_LOGINS, DEMO_PATRONS, barcodes, seed
from ils_bridge.reasons import Reason
from sip2_server.terminals import TerminalDirectory


def test_demo_seed_gives_what_the_readme_lists(tmp_path):
    app = App.open(f"sqlite:///{tmp_path / 'demo.db'}", create=True)
    reports = seed(app)
    assert {code: r.added for code, r in reports.items()} == {code: len(titles) for code, (_, titles, _) in CATALOGUES.items()}
    for patron in DEMO_PATRONS:
        assert app.library(patron.library).authenticate(patron.number, patron.pin).ok
    directory = TerminalDirectory(app)
    assert all(directory.authenticate(t.login, t.password) is not None for t in DEMO_LOGINS)
    for code, (_, titles, _) in CATALOGUES.items():
        lib = app.library(code)
        for title in titles:
            assert [lib.item_info(b)["material"] for b in barcodes("", title)] == [title.material] * title.copies
    xuzhou, hcmc = app.library("xuzhou"), app.library("hcmc")
    assert xuzhou.checkout("20230001", "XZ001-1").rule == "loan:natural-science"
    assert xuzhou.checkout("20230001", "XZ008-1").reason == Reason.NOT_LOANABLE
    assert hcmc.checkout("R0003", "HC001-1").reason == Reason.PACKAGE_REQUIRED
    assert hcmc.checkout("R0001", "HC005-1").reason == Reason.SINGLE_COPY_TITLE
    assert hcmc.checkout("R0001", "HC004-1").ok
    assert hcmc.checkout("R0001", "HC001-1").reason == Reason.PACKAGE_VALUE_EXCEEDED
    app.close()


def test_demo_command_seeds_once_and_prints_the_guide(tmp_path):
    from click.testing import CliRunner

    from ils_bridge.cli.main import cli

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = CliRunner().invoke(cli, ["--database", url, "demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "xz-kiosk-1" in first.stdout and "R0003" in first.stdout and "xuzhou: 9 records" in first.stderr
    again = CliRunner().invoke(cli, ["--database", url, "demo", "--no-serve"])
    assert again.exit_code == 0 and "records" not in again.stderr  # already seeded: nothing imported twice


def test_availability_carries_each_copys_number(tmp_path):
    app = App.open(f"sqlite:///{tmp_path / 'demo.db'}", create=True)
    seed(app)
    lib = app.library("xuzhou")
    title_id = lib.item_info("XZ001-2")["title_id"]
    copies = lib.availability([title_id])[title_id]
    assert [(c["barcode"], c["copy_number"]) for c in copies] == [("XZ001-1", "1"), ("XZ001-2", "2"), ("XZ001-3", "3")]
    app.close()
