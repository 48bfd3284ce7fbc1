"""`ils-bridge serve all` and `ils-bridge index rebuild` as an operator runs them."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import sqlalchemy
from click.testing import CliRunner

from ils_bridge.app import App
from ils_bridge.cli.main import cli
from ils_bridge.storage.schema import metadata
from marc.search import open_index
from marc.search.tables import search_docs
from marc.sru.cql import cql_to_query
from tests.opac.live import Servers, build_library, hits

BOOK = "C0000001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, deadline: float) -> None:
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def library_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    engine = sqlalchemy.create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    app = App.open(url)
    build_library(app)
    app.close()
    return url


def test_serve_all_runs_sip2_sru_and_z3950_in_one_process_and_stops_on_sigterm(tmp_path: Path):
    url = library_database(tmp_path)
    ports = {name: free_port() for name in ("sip2", "sru", "z3950", "metrics")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ils_bridge.cli", "--database", url, "--library", "xuzhou", "serve", "all",
         "--sip2-port", str(ports["sip2"]), "--sru-port", str(ports["sru"]), "--z3950-port", str(ports["z3950"]),
         "--metrics-port", str(ports["metrics"])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    app = App.open(url)
    try:
        for port in ports.values():
            wait_for(port, time.monotonic() + 30)
        servers = Servers(app.library("xuzhou"), ports["sip2"], ports["sru"], ports["z3950"])
        sip = servers.sip2_client()
        assert sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(BOOK)))["fixed"]["Ok"] == "1"
        sip.disconnect()
        assert servers.sru_copy_status("CN0001", BOOK)["j"] == "checked_out"
        assert hits(servers.z3950_session("find @attr 1=4 机器学习\nfind @attr 1=9999 x")) == [1, 0]
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['metrics']}/metrics", timeout=10).read().decode()
        for line in ('protocol="sip2",message="11",result="ok"} 1', 'protocol="sru",message="searchRetrieve",result="ok"} 1',
                     'protocol="z3950",message="searchRequest",result="ok"} 1',
                     'protocol="z3950",message="searchRequest",result="refused"} 1'):
            assert "ils_bridge_requests_total{" + line in metrics, metrics
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        app.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert [line.split(":")[0] for line in output.splitlines() if line.endswith(": stopped")] == [
        "Z39.50 on 127.0.0.1", "SRU on http", "SIP2 on 127.0.0.1", "health and metrics on port " + str(ports["metrics"])]


def test_index_rebuild_restores_a_lost_index_and_serving_catches_up(tmp_path: Path):
    url = library_database(tmp_path)
    engine = sqlalchemy.create_engine(url)
    index = open_index(engine)
    title, _ = cql_to_query("dc.title=机器学习")

    def lose_index() -> None:
        with engine.begin() as conn:
            conn.execute(search_docs.delete())
            conn.exec_driver_sql("DELETE FROM search_fts")

    lose_index()
    result = CliRunner().invoke(cli, ["--database", url, "index", "rebuild"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("indexed 2 record(s), merged the index in ")
    assert len(index.search(title)) == 1

    lose_index()
    assert index.catch_up() == 2  # what serve sru / z3950 / all run as they start
    assert index.catch_up() == 0
    assert len(index.search(title)) == 1
    engine.dispose()
