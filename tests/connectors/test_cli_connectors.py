"""The connector commands: sync patrons (incremental), notices run/dead/retry, connectors check, sync ill."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import select

from ils_bridge.app import Library
from ils_bridge.cli.common import EXIT_NOT_FOUND, EXIT_UNAVAILABLE
from ils_bridge.cli.main import cli
from ils_bridge.connectors.state import read_watermark
from ils_bridge.storage.schema import cards, notices_outbox, patrons
from tests.core.helpers import due_date, move_to, title_with_copies

HOST = "https://campus.example.edu/api/"
PATRONS = HOST + "patrons"
SETTINGS = {
    "patron_sync": {
        "base_url": HOST, "retries": 1, "path": "/patrons",
        "paging": {"style": "page", "page_size": 50, "total_key": "total"},
        "fields": {"number": "student_id", "name": "name", "patron_type": {"key": "category", "values": {"UG": "undergraduate"}},
                   "card_number": "card.no", "card_valid_until": "card.valid_to", "email": "mail",
                   "left": {"key": "status", "values": ["graduated"]}},
    },
    "campus_auth": {"base_url": HOST, "retries": 1, "path": "/auth", "health_path": "/health"},
    "ill_gateway": {"base_url": "https://ill.example.org/api/", "retries": 1, "health_path": "/health"},
    "notices": {"max_attempts": 3, "gateways": {ch: {"base_url": f"https://{ch}.example.edu/", "retries": 1}
                                                for ch in ("email", "wechat")}},
}


@pytest.fixture
def lib(make_library) -> Library:
    return make_library("xuzhou")


@pytest.fixture
def run(lib: Library, db_url: str, tmp_path: Path):
    config = tmp_path / "ils-bridge.yaml"
    config.write_text(yaml.safe_dump({"connectors": SETTINGS}), encoding="utf-8")

    def invoke(*args: str) -> Result:
        base = ["--database", db_url, "--config", str(config), "--library", lib.code]
        return CliRunner(env={"COLUMNS": "200"}).invoke(cli, [*base, *args])

    return invoke


def reader(lib: Library, number: str) -> None:
    assert lib.register_patron(number, f"Reader {number}", "undergraduate", email=f"{number}@example.edu").ok
    assert lib.issue_card(number, f"C-{number}", valid_until=dt.date(2030, 1, 1)).ok


def outbox(lib: Library) -> list:
    return lib.app.db.read(lambda c: c.execute(select(notices_outbox).order_by(notices_outbox.c.id)).all())


# -- sync patrons -----------------------------------------------------------------------------
def host_page(*records: dict) -> dict:
    return {"items": list(records), "total": len(records)}


NEW = {"student_id": "N1", "name": "Nguyễn Mới", "category": "UG", "mail": "n1@example.edu",
       "card": {"no": "K-N1", "valid_to": "2030-06-30"}}
GRADUATE = {"student_id": "G1", "name": "Reader G1", "category": "UG", "status": "graduated"}


@responses.activate
def test_sync_patrons_applies_reports_clearance_and_stores_the_watermark(lib: Library, run, clock) -> None:
    reader(lib, "G1")
    [book] = title_with_copies(lib, "SS", "zh_book", copies=1, classification="D61")
    assert lib.checkout("G1", book).ok  # graduated upstream, still holding a book
    responses.get(PATRONS, json=host_page(NEW, GRADUATE))

    first = run("--json", "sync", "patrons")

    assert first.exit_code == 0, first.output + first.stderr
    summary = json.loads(first.stdout)
    assert (summary["created"], summary["needs_clearance"], summary["left"], summary["complete"]) == (1, ["G1"], [], True)
    assert "changed_since" not in parse_qs(urlsplit(responses.calls[0].request.url).query)
    watermark = read_watermark(lib.app.db.engine, lib.record.id)
    assert watermark is not None and summary["watermark"] == watermark.isoformat()
    card = lib.app.db.read(lambda c: c.execute(select(cards.c.number, cards.c.valid_until).join(
        patrons, patrons.c.id == cards.c.patron_id).where(patrons.c.number == "N1")).one())
    assert tuple(card) == ("K-N1", dt.date(2030, 6, 30))

    second = run("sync", "patrons")  # human output, incremental
    assert second.exit_code == 0, second.output + second.stderr
    sent = parse_qs(urlsplit(responses.calls[1].request.url).query)
    assert sent["changed_since"] == [watermark.isoformat()]
    assert "Needs clearance" in second.stdout and "G1" in second.stdout and "1 updated" not in second.stdout
    assert read_watermark(lib.app.db.engine, lib.record.id) >= watermark

    run("sync", "patrons", "--full")
    assert "changed_since" not in parse_qs(urlsplit(responses.calls[2].request.url).query)


@responses.activate
def test_sync_patrons_with_the_host_down_exits_4_and_keeps_the_watermark(lib: Library, run) -> None:
    responses.get(PATRONS, status=503)
    result = run("sync", "patrons")
    assert result.exit_code == EXIT_UNAVAILABLE and "previous watermark" in result.stderr
    assert read_watermark(lib.app.db.engine, lib.record.id) is None


def test_missing_connector_settings_are_bad_input(lib: Library, db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text("connectors: {}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--database", db_url, "--config", str(config), "sync", "patrons"])
    assert result.exit_code == 2 and "missing connector section 'patron_sync'" in result.stderr


# -- notices ------------------------------------------------------------------------------------
@responses.activate
def test_notices_run_delivers_and_dead_letters_can_be_retried(lib: Library, run, clock) -> None:
    reader(lib, "U1")
    [book] = title_with_copies(lib, "SS", "zh_book", copies=1, classification="D61")
    move_to(clock, due_date(lib.checkout("U1", book), "Asia/Shanghai") + dt.timedelta(days=1), "Asia/Shanghai")
    assert lib.run_jobs().ok  # overdue: email and wechat
    responses.post("https://email.example.edu/send", json={"ok": True})
    responses.post("https://wechat.example.edu/send", status=400)  # refused for good: dead at once

    result = run("--json", "notices", "run")

    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads(result.stdout)
    [dead_id] = [n.id for n in outbox(lib) if n.channel == "wechat"]
    assert (summary["sent"], summary["dead"]) == (1, [dead_id])

    listed = run("--json", "notices", "dead")
    assert [row["id"] for row in json.loads(listed.stdout)] == [dead_id]
    assert "HTTP 400" in json.loads(listed.stdout)[0]["last_error"]

    retried = run("notices", "retry", str(dead_id), "999999")
    assert retried.exit_code == EXIT_NOT_FOUND and "999999" in retried.stderr
    assert {n.id: n.status for n in outbox(lib)}[dead_id] == "pending"

    responses.replace(responses.POST, "https://wechat.example.edu/send", json={"ok": True})
    again = run("notices", "run")
    assert again.exit_code == 0 and "1 sent" in again.stdout
    assert {n.status for n in outbox(lib)} == {"sent"}
    assert "no dead notices" in run("notices", "dead").stdout


# -- connectors check ------------------------------------------------------------------------
@responses.activate
def test_connectors_check_lists_every_connector_and_fails_if_one_does(run) -> None:
    responses.get(PATRONS, json=host_page(NEW))
    responses.get(HOST + "health", json={"ok": True})
    responses.get("https://ill.example.org/api/health", status=500)

    result = run("--json", "connectors", "check")

    assert result.exit_code == EXIT_UNAVAILABLE and "ill_gateway" in result.stderr
    checks = {row["connector"]: row["ok"] for row in json.loads(result.stdout)}
    assert checks == {"patron_sync": True, "campus_auth": True, "ill_gateway": False,
                      "notices.email": False, "notices.wechat": False}  # the gateways have no health_path


# -- sync ill ------------------------------------------------------------------------------------
@responses.activate
def test_sync_ill_send_and_poll(lib: Library, run) -> None:
    reader(lib, "U1")
    request_id = lib.ill_request("U1", "Bản đồ cổ", kind="copy").data["request_id"]
    responses.post("https://ill.example.org/api/requests", json={"id": "R9"})
    responses.get("https://ill.example.org/api/requests/R9", json={"status": "ended – filled", "cost_minor": 1200})

    sent = run("--json", "sync", "ill", "send")
    assert sent.exit_code == 0 and json.loads(sent.stdout) == [{"request_id": request_id, "gateway_ref": "R9"}]
    again = run("sync", "ill", "send", str(request_id))
    assert again.exit_code == 1 and "not new" in again.stdout

    polled = run("--json", "sync", "ill", "poll")
    assert polled.exit_code == 0, polled.output + polled.stderr
    assert json.loads(polled.stdout) == [{"request_id": request_id, "state": "filled", "subsidy": "0.00"}]
    assert sorted(n.channel for n in outbox(lib) if n.kind == "ill_arrived") == ["email", "wechat"]
