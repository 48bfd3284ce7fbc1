"""The gate's path: ``Library.item_circulation`` (the light read behind 17), what other processes see, uvloop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ils_bridge.app import App
from ils_bridge.event_loop import fast_loop_factory, loop_name, run
from tests.sip2.sip2_support import running_server
from tests.sip2.sip2_world import XZ, books

REPO = Path(__file__).resolve().parents[2]
CIRCULATION_KEYS = ("item_id", "barcode", "title_id", "title", "status", "checked_out", "due", "borrower", "recalled",
                    "hold_queue", "hold_for", "hold_shelf_expires_on", "material", "branch", "location")


def test_item_circulation_is_item_info_without_the_policy_part(xuzhou):
    available, charged, held, recalled = books(xuzhou, "G", copies=4, branch="main")
    for item in (charged, recalled, held):
        assert xuzhou.checkout("U2", item).ok
    assert xuzhou.recall(recalled).ok
    assert xuzhou.place_hold("U1", item=held).ok and xuzhou.checkin(held).ok  # on the hold shelf for U1
    for barcode in (available, charged, held, recalled):
        light, full = xuzhou.item_circulation(barcode), xuzhou.item_info(barcode)
        assert set(light) == set(CIRCULATION_KEYS)
        assert light == {key: full[key] for key in CIRCULATION_KEYS}
    assert xuzhou.item_circulation(charged)["borrower"] == "U2" and xuzhou.item_circulation(recalled)["recalled"]
    assert xuzhou.item_circulation(held)["hold_for"] == "U1"
    assert {"in_library_only", "price", "author", "call_number"} <= set(xuzhou.item_info(available))


def test_item_circulation_refuses_an_unknown_barcode(xuzhou):
    from ils_bridge.outcome import Refusal
    from ils_bridge.reasons import Reason

    with pytest.raises(Refusal) as refused:
        xuzhou.item_circulation("NO-SUCH-ITEM")
    assert refused.value.reason is Reason.UNKNOWN_ITEM


def _circulation_status(gate, item: str) -> str:
    return gate.item_information(XZ, item).fixed["circulation_status"]


def test_gate_sees_what_another_connection_committed_at_once(server, sqlite_app, xuzhou):
    """A second App on the same file (its own engine and connections) checks out and in: no stale answer."""
    (item,) = books(xuzhou, "W", copies=1)
    server.add_terminal("xuzhou", "gate-1", XZ, kind="gate")
    gate = server.raw("gate-1")
    assert _circulation_status(gate, item) == "03"
    other = App.open(str(sqlite_app.db.engine.url), sqlite_app.clock)
    try:
        desk = other.library("xuzhou")
        for _ in range(3):
            assert desk.checkout("U2", item).ok
            assert _circulation_status(gate, item) == "04"  # charged: the gate lets it through
            assert desk.checkin(item).ok
            assert _circulation_status(gate, item) == "03"  # checked in: the gate must alarm
    finally:
        other.close()


def test_gate_sees_a_checkin_made_by_another_process(server, sqlite_app, xuzhou):
    (item,) = books(xuzhou, "Q", copies=1)
    assert xuzhou.checkout("U2", item).ok
    server.add_terminal("xuzhou", "gate-1", XZ, kind="gate")
    gate = server.raw("gate-1")
    assert _circulation_status(gate, item) == "04"
    script = textwrap.dedent(f"""
        from ils_bridge.app import App
        app = App.open({str(sqlite_app.db.engine.url)!r})
        assert app.library("xuzhou").checkin({item!r}).ok
        app.close()
    """)
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=120)
    assert _circulation_status(gate, item) == "03"


def test_run_uses_uvloop_when_installed_and_asyncio_when_asked():
    async def which() -> str:
        return loop_name(asyncio.get_running_loop())

    assert run(which(), fast=False) == "asyncio"
    assert run(which()) == ("uvloop" if fast_loop_factory() is not None else "asyncio")


def test_without_uvloop_the_default_loop_is_used(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert fast_loop_factory() is None
    assert run(asyncio.sleep(0, "done")) == "done"


@pytest.mark.skipif(fast_loop_factory() is None, reason="uvloop is not installed")
def test_the_server_answers_on_uvloop():
    with running_server(loop_factory=fast_loop_factory()) as srv:
        client = srv.connect()
        assert srv.call(_loop_of_server()) == "uvloop"
        assert client.exchange(b"9900302.00AY1AZFCA5\r").startswith(b"98")


async def _loop_of_server() -> str:
    return loop_name(asyncio.get_running_loop())
