"""Test support for deployments: migrated PostgreSQL databases, `serve sip2` processes, and retrying terminals.

- ``migrated_pg_database``: an empty database brought to head by the Alembic migrations (what `init` does)
- ``seed``: the xuzhou example library with borrowers, books, payers owing a fee, and one terminal account each
- ``ServeProcess``: one ``ils-bridge serve sip2`` subprocess (start, wait until it answers, SIGKILL, SIGTERM)
- ``Terminal``: a SIP2 terminal that numbers its requests (AY, transaction date) and, when its connection
  dies, reconnects to the next server and resends the same frame: what a kiosk behind a load balancer does.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import sqlalchemy

from ils_bridge.app import App, Library
from sip2_server import Codec, Message
from sip2_server.terminals import TerminalDirectory
from tests.core.helpers import patron_with_card, title_with_copies
from tests.pg_cluster import PgCluster

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "term-secret"
INSTITUTION = "XZMU"
_names = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrated_pg_database(cluster: PgCluster) -> str:
    name = f"deploy_{os.getpid()}_{next(_names)}"
    engine = sqlalchemy.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE template0")
    engine.dispose()
    url = cluster.url(name)
    App.open(url, create=True).close()
    return url


@dataclass
class World:
    """What ``seed`` made: who may borrow what, who owes what, which terminals exist."""

    borrowers: list[str]
    social: list[str]  # items of class ss (external patrons: at most 2 at once)
    natural: list[str]  # items of class ns (at most 2 at once)
    payers: list[str]
    fee: Decimal  # what each payer owes at the start
    terminals: list[str]

    @property
    def items(self) -> list[str]:
        return self.social + self.natural


def seed(url: str, *, borrowers: int = 6, copies: int = 8, payers: int = 3, terminals: int = 12) -> World:
    app = App.open(url)
    try:
        lib = app.create_library((REPO / "policies" / "examples" / "xuzhou.yaml").read_text(encoding="utf-8"), author="test")
        patrons = [patron_with_card(lib, f"E{n}", "external") for n in range(borrowers)]
        social = title_with_copies(lib, "SS", "zh_book", copies=copies, classification="D61", price=Decimal(40))
        natural = title_with_copies(lib, "NS", "zh_book", copies=copies, classification="R44", price=Decimal(40))
        payer_numbers = [_payer(lib, n) for n in range(payers)]
        fee = lib.patron_account(payer_numbers[0])["fees_owed"]
        directory = TerminalDirectory(app)
        logins = [f"kiosk-{n}" for n in range(terminals)]
        for login in logins:
            directory.add("xuzhou", login, PASSWORD, institution_id=INSTITUTION, settings={"language": "en"})
        return World(patrons, social, natural, payer_numbers, fee, logins)
    finally:
        app.close()


def _payer(lib: Library, n: int) -> str:
    """A patron owing a barcode-replacement fee (20 labels: 100 CNY) on a book they returned."""
    number = patron_with_card(lib, f"P{n}", "phd")
    [item] = title_with_copies(lib, f"PB{n}", "zh_book", copies=1, classification="D61")
    assert lib.checkout(number, item).ok and lib.checkin(item).ok
    charged = lib.charge_damage(item, "barcode", patron=number, units=20)
    assert charged.ok, charged
    return number


class ServeProcess:
    """``ils-bridge serve sip2`` in its own process, on a free port."""

    def __init__(self, url: str, config: Path, *extra: str) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.log = config.parent / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "ils_bridge.cli", "--database", url, "--config", str(config),
                   "serve", "sip2", "--port", str(self.port), "--metrics-port", str(self.metrics_port), *extra]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, mid-transaction or not."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM (a graceful stop) and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self._wait()

    def _wait(self) -> int:
        if self.process.poll() is None:
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    @staticmethod
    def stop_all(servers: list[ServeProcess]) -> None:
        """Stop several at once (each takes a moment to close its pools)."""
        for server in servers:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server._wait()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def write_config(directory: Path, workers: int = 4) -> Path:
    config = directory / "ils.yaml"
    config.write_text(f"sip2:\n  workers: {workers}\n  terminal_defaults: {{language: en}}\n", encoding="utf-8")
    return config


@dataclass
class Terminal:
    """A kiosk: numbered requests with a transaction date each, resent as they were after a reconnect."""

    login: str
    ports: list[int]
    timeout: float = 20.0
    max_attempts: int = 20
    codec: Codec = field(default_factory=Codec)
    reconnects: int = 0
    _sock: socket.socket | None = None
    _buffer: bytes = b""
    _counter: itertools.count = field(default_factory=itertools.count)
    _port_index: int = 0
    _clock: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))

    def frame(self, message: Message) -> bytes:
        """Number a new request: sequence 0-9 and a transaction date one second after the previous one's."""
        n = next(self._counter)
        if "transaction_date" in message.fixed:
            message.fixed["transaction_date"] = self._clock + dt.timedelta(seconds=n)
        return self.codec.encode(message, sequence=n % 10, checksum=True)

    def send(self, frame: bytes) -> Message:
        """Send a frame and return the reply, reconnecting (and logging in again) and resending as needed."""
        for _ in range(self.max_attempts):
            try:
                if self._sock is None:
                    self._connect()
                return self._exchange(frame)
            except OSError:
                self._drop()
                self.reconnects += 1
                self._port_index += 1
                time.sleep(0.05)
        raise AssertionError(f"{self.login}: no server answered after {self.max_attempts} attempts")

    def request(self, message: Message) -> Message:
        return self.send(self.frame(message))

    def checkout(self, patron: str, item: str) -> Message:
        return self.request(checkout_request(patron, item))

    def checkin(self, item: str) -> Message:
        return self.request(checkin_request(item))

    def pay(self, patron: str, amount: str) -> Message:
        return self.request(payment_request(patron, amount))

    def send_only(self, frame: bytes) -> None:
        """Send a frame on the open connection and never read its reply (as if the reply was lost)."""
        if self._sock is None:
            self._connect()
        assert self._sock is not None
        self._sock.sendall(frame)

    def close(self) -> None:
        self._drop()

    def _connect(self) -> None:
        port = self.ports[self._port_index % len(self.ports)]
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=self.timeout)
        self._buffer = b""
        login = Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"}).add("CN", self.login).add("CO", PASSWORD)
        reply = self._exchange(self.codec.encode(login))
        if reply.fixed.get("ok") != "1":
            raise ConnectionError(f"{self.login}: login refused on port {port}")

    def _exchange(self, frame: bytes) -> Message:
        assert self._sock is not None
        self._sock.sendall(frame)
        while b"\r" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r", 1)
        return self.codec.decode(line)

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def checkout_request(patron: str, item: str) -> Message:
    return (Message("11", {"sc_renewal_policy": "N", "no_block": "N", "transaction_date": None, "nb_due_date": None})
            .add("AO", INSTITUTION).add("AA", patron).add("AB", item).add("AC", ""))


def checkin_request(item: str) -> Message:
    return (Message("09", {"no_block": "N", "transaction_date": None, "return_date": None})
            .add("AP", "").add("AO", INSTITUTION).add("AB", item).add("AC", ""))


def payment_request(patron: str, amount: str) -> Message:
    return (Message("37", {"transaction_date": None, "fee_type": "01", "payment_type": "00", "currency_type": "CNY"})
            .add("AO", INSTITUTION).add("AA", patron).add("BV", amount))


def ok(reply: Message) -> bool:
    return reply.fixed.get("ok", reply.fixed.get("payment_accepted")) in ("1", "Y")


def stop_postgres(cluster: PgCluster) -> None:
    """Stop the test cluster's server (fast: open sessions are cut), keeping its data."""
    cluster._run("pg_ctl", "-D", str(cluster.datadir), "-m", "fast", "-w", "stop")


def start_postgres(cluster: PgCluster) -> None:
    """Start it again with the options it last ran with (pg_ctl restart reads them from postmaster.opts)."""
    cluster._run("pg_ctl", "-D", str(cluster.datadir), "-l", str(cluster.root / "log"), "-w", "restart")
    cluster.wait_ready()


def http_get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of a GET on the serving process's health/metrics endpoint."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")
