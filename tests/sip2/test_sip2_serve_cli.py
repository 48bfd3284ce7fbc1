"""`ils-bridge serve sip2` as an operator runs it: a real process, a real login, SIGTERM for a clean stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy

from ils_bridge.app import App
from ils_bridge.storage.schema import metadata
from sip2_server.terminals import TerminalDirectory
from tests.sip2.sip2_support import Client
from tests.sip2.sip2_world import PASSWORD, Raw, make_library


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(port: int, deadline: float) -> socket.socket:
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_sip2_answers_and_stops_on_sigterm(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    engine = sqlalchemy.create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    app = App.open(url)
    make_library(app, "hcmc")
    TerminalDirectory(app).add("hcmc", "kiosk-1", PASSWORD, institution_id="HCM")
    app.close()
    config = tmp_path / "ils.yaml"
    config.write_text("sip2:\n  workers: 2\n  terminal_defaults: {language: en}\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from ils_bridge.cli.main import cli; cli()", "--database", url, "--config", str(config),
         "serve", "sip2", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        raw = Raw(connect(port, time.monotonic() + 30))
        assert raw.login("kiosk-1").fixed["ok"] == "1"
        status = raw.status()
        assert status.fixed["online_status"] == "Y" and status.get("AM") == "Ho Chi Minh City General Sciences Library"
        unknown = raw.item_information("HCM", "NOPE")
        assert unknown.get_all("AF") == ["No item has this barcode."]
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopped" in output
    assert isinstance(raw, Client) and raw.closed_by_server()
