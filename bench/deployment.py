"""Deployment scaling: `ils-bridge serve sip2` processes sharing one PostgreSQL database, against SQLite.

Runs, in one go and on the same demo library (bench/sip2_load.py's), N
terminals doing checkout+checkin loops spread evenly over:

- 1, 2 and 4 server processes on one PostgreSQL database (a throwaway
  cluster started here, or ``--pg-url`` for a database of yours), and
- 1 server process on a SQLite file (the single-process baseline).

Each server is a real ``ils-bridge serve sip2`` subprocess.  Prints
transactions/s, p50/p99 latency and refusals per set-up, then the ratios.
With each set-up comes where the machine's CPU went during its load window
(from /proc, Linux only): the server processes, PostgreSQL's processes (the
throwaway cluster's; not measured with ``--pg-url``), this load generator,
and everything else on the machine, as cores busy on average, with the load
average at the end of the window.  On a machine where those all share a few
cores, a set-up that runs out of CPU shows it here.  From the CPU each
transaction cost comes a CPU-bound capacity: what the set-up could do with
the machine to itself (all cores, but no server process past one core).
When other work loads the machine, compare those: the scheduler shares the
cores by thread, so a set-up with more busy threads gets a bigger share of
a crowded machine whatever it does with it.

    python bench/deployment.py                        # 200 terminals, 10 s per set-up
    python bench/deployment.py --terminals 50 --seconds 5 --processes 1,2

Targets (2 cores): 2 processes >= 1.6x one process; PostgreSQL (1 process)
within 2x of SQLite's throughput.  Figures only: nothing here asserts.
Note the throwaway cluster runs with fsync off (as the test suite's does):
a production PostgreSQL pays for durable commits.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sip2_load import (
    ACCOUNTS,
    ITEMS_PER_TERMINAL,
    REPO,
    Terminal,
    build_library,
    checkin,
    checkout,
    percentile,
)

from sip2_server.codec import format_date


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class CpuSplit:
    """Cores busy on average over a load window: servers, PostgreSQL, this load generator, the rest of the machine."""

    servers: float
    postgres: float | None
    load_generator: float
    others: float
    load_average: float

    def line(self) -> str:
        postgres = "n/a" if self.postgres is None else f"{self.postgres:.2f}"
        busy = self.servers + (self.postgres or 0) + self.load_generator + self.others
        return (f"      CPU (cores busy): servers {self.servers:.2f}, postgres {postgres}, load generator "
                f"{self.load_generator:.2f}, others {self.others:.2f}, total {busy:.2f} of {os.cpu_count()}; "
                f"load average {self.load_average:.2f}")

    def per_transaction(self, rate: float) -> str:
        """CPU milliseconds a transaction costs: unlike the rate, this holds when others load the machine."""
        postgres = "n/a" if self.postgres is None else f"{self.postgres / rate * 1000:.2f}"
        return (f"      CPU per transaction: servers {self.servers / rate * 1000:.2f} ms, postgres {postgres} ms, "
                f"load generator {self.load_generator / rate * 1000:.2f} ms")

    def capacity(self, rate: float, processes: int) -> float:
        """Transactions/s this set-up could reach alone on this machine if CPU were its only limit: every core
        busy with its servers, PostgreSQL and the load generator, and no server process past one core (the GIL)."""
        whole = (self.servers + (self.postgres or 0) + self.load_generator) / rate
        per_server = self.servers / rate / processes
        return min((os.cpu_count() or 1) / whole, 1 / per_server)


@dataclass
class Result:
    name: str
    processes: int
    transactions: int
    seconds: float
    latencies: list[float]
    refusals: int
    cpu: CpuSplit

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds

    def line(self) -> str:
        return (f"  {self.name:<24} {self.rate:>9,.0f} tx/s   p50 {percentile(self.latencies, 0.5) * 1000:6.1f} ms   "
                f"p99 {percentile(self.latencies, 0.99) * 1000:6.1f} ms   refusals {self.refusals}\n{self.cpu.line()}\n"
                f"{self.cpu.per_transaction(self.rate)}; CPU-bound capacity alone here {self.capacity:,.0f} tx/s")

    @property
    def capacity(self) -> float:
        return self.cpu.capacity(self.rate, self.processes)


# --------------------------------------------------------------------------- CPU accounting (/proc)

def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (PostgreSQL's backends and workers are the postmaster's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return found


def machine_busy() -> float:
    """CPU seconds the whole machine has spent not idle (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


class CpuMeter:
    """CPU used during a window by the servers, the postmaster and its children, and this process."""

    def __init__(self, servers: list[int], postmaster: int | None) -> None:
        self.servers, self.postmaster = servers, postmaster

    def _sample(self) -> tuple[float, float | None, float, float]:
        servers = sum(process_cpu(pid) for pid in self.servers)
        postgres = None if self.postmaster is None else \
            process_cpu(self.postmaster) + sum(process_cpu(pid) for pid in children(self.postmaster))
        return servers, postgres, time.process_time(), machine_busy()

    def start(self) -> None:
        self._began, self._first = time.perf_counter(), self._sample()

    def stop(self) -> CpuSplit:
        last, elapsed = self._sample(), time.perf_counter() - self._began
        servers, postgres, generator, busy = (None if a is None else (b - a) / elapsed for a, b in zip(self._first, last))
        return CpuSplit(servers, postgres, generator, busy - servers - (postgres or 0) - generator, os.getloadavg()[0])


# --------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(url: str, processes: int, pool_size: int, workdir: Path) -> Iterator[list[subprocess.Popen]]:
    """``processes`` serve sip2 subprocesses on ``url``; yields (port, process) pairs, stops them with SIGTERM."""
    config = workdir / "bench.yaml"
    config.write_text("sip2:\n  terminal_defaults: {language: en}\n", encoding="utf-8")
    ports = [free_port() for _ in range(processes)]
    running = [subprocess.Popen([sys.executable, "-m", "ils_bridge.cli", "--database", url, "--config", str(config),
                                 "serve", "sip2", "--port", str(port), "--pool-size", str(pool_size)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO) for port in ports]
    try:
        for port, process in zip(ports, running):
            wait_listening(port, process)
        yield list(zip(ports, running))
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(60)


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"serve sip2 exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# --------------------------------------------------------------------------- load

async def load(ports: list[int], terminals: int, seconds: float, meter: CpuMeter) -> tuple[int, list[float], int, CpuSplit]:
    """Terminal n uses server ``n % len(ports)`` (a round-robin balancer) and loops over its own items."""
    latencies: list[float] = []
    refusals = 0
    everyone_in, started = asyncio.Event(), asyncio.Event()
    logged_in, deadline = 0, 0.0

    async def one(n: int) -> int:
        nonlocal refusals, logged_in
        terminal = await Terminal.open(ports[n % len(ports)], f"kiosk-{n % ACCOUNTS}")
        logged_in += 1
        if logged_in == terminals:
            everyone_in.set()
        await started.wait()
        rounds = [(checkout(f"P{n}", item), checkin(item))
                  for item in (f"I{n}-{k}" for k in range(ITEMS_PER_TERMINAL))]
        done, k = 0, 0
        while time.perf_counter() < deadline:
            for request in rounds[k % ITEMS_PER_TERMINAL]:
                date = format_date(dt.datetime.now()).encode("ascii")
                begin = time.perf_counter()
                reply = await terminal.ask(request.frame(done % 10, date))
                latencies.append(time.perf_counter() - begin)
                refusals += reply[2:3] != b"1"  # 12/10 replies: the ok flag follows the id
                done += 1
            k += 1
        terminal.close()
        return done

    tasks = [asyncio.create_task(one(n)) for n in range(terminals)]
    await asyncio.wait_for(everyone_in.wait(), 120)
    meter.start()
    deadline = time.perf_counter() + seconds
    started.set()
    done = sum(await asyncio.gather(*tasks))
    return done, latencies, refusals, meter.stop()


def measure(name: str, url: str, processes: int, args: argparse.Namespace, workdir: Path,
            postmaster: int | None) -> Result:
    with serve(url, processes, args.pool_size, workdir) as servers:
        meter = CpuMeter([process.pid for _, process in servers], postmaster)
        transactions, latencies, refusals, cpu = asyncio.run(
            load([port for port, _ in servers], args.terminals, args.seconds, meter))
    result = Result(name, processes, transactions, args.seconds, latencies, refusals, cpu)
    print(result.line(), flush=True)
    return result


# --------------------------------------------------------------------------- databases

def pg_copies(base_url: str, names: list[str]) -> list[str]:
    """Copies of the built database (CREATE DATABASE ... TEMPLATE): every set-up starts from the same state."""
    import sqlalchemy

    server_url, _, base = base_url.rpartition("/")
    engine = sqlalchemy.create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {base}")
    engine.dispose()
    return [f"{server_url}/{name}" for name in names]


@contextmanager
def postgresql(given: str | None) -> Iterator[tuple[str, int | None]]:
    """A URL of an empty database, and the postmaster's pid when it is ours to measure: ``given`` (no pid), or
    a database in a throwaway cluster (tests/pg_cluster.py)."""
    if given:
        yield given, None
        return
    sys.path.insert(0, str(REPO))
    from tests.pg_cluster import PgCluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed: pass --pg-url")
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE bench_base")
        engine.dispose()
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        yield cluster.url("bench_base"), postmaster
    finally:
        cluster.stop()


# --------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per set-up")
    parser.add_argument("--processes", default="1,2,4", help="PostgreSQL set-ups: comma-separated process counts")
    parser.add_argument("--pool-size", type=int, default=16, help="database connections (and threads) per process")
    parser.add_argument("--copies", type=int, default=4, help="copies of each title in the demo library")
    parser.add_argument("--pg-url", help="an empty PostgreSQL database to build in (default: a throwaway cluster)")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]

    with tempfile.TemporaryDirectory() as tmp, postgresql(args.pg_url) as (pg_base, postmaster):
        workdir = Path(tmp)
        began = time.perf_counter()
        sqlite_base = workdir / "base.db"
        build_library(f"sqlite:///{sqlite_base}", args.terminals, args.copies)
        build_library(pg_base, args.terminals, args.copies)
        print(f"demo library: {args.terminals + 1} patrons, {(args.terminals + 1) * ITEMS_PER_TERMINAL} items, "
              f"on SQLite and PostgreSQL ({time.perf_counter() - began:.1f} s)")
        print(f"\ncheckout+checkin, {args.terminals} terminals spread over the processes, {args.seconds:.0f} s each, "
              f"pool size {args.pool_size}:")
        sqlite_copy = workdir / "sqlite.db"
        shutil.copy(sqlite_base, sqlite_copy)
        sqlite = measure("SQLite, 1 process", f"sqlite:///{sqlite_copy}", 1, args, workdir, postmaster)
        urls = pg_copies(pg_base, [f"bench_{n}p" for n in counts])
        pg = {n: measure(f"PostgreSQL, {n} process{'es' if n > 1 else ''}", url, n, args, workdir, postmaster)
              for n, url in zip(counts, urls)}

    print("\nratios:")
    if 1 in pg:
        for n, result in pg.items():
            if n > 1:
                target = "   (target >= 1.6 on 2 cores)" if n == 2 else ""
                print(f"  PostgreSQL {n} processes / 1 process: {result.rate / pg[1].rate:.2f}{target}")
        print(f"  PostgreSQL 1 process / SQLite 1 process: {pg[1].rate / sqlite.rate:.2f}   (target >= 0.5)")
    best = max(pg.values(), key=lambda r: r.rate)
    print(f"  best PostgreSQL ({best.name}) / SQLite 1 process: {best.rate / sqlite.rate:.2f}")
    if 1 in pg and 2 in pg:
        print(f"the same ratios of CPU-bound capacity (what a machine shared with nothing else would allow):\n"
              f"  PostgreSQL 2 processes / 1 process: {pg[2].capacity / pg[1].capacity:.2f}\n"
              f"  PostgreSQL 1 process / SQLite 1 process: {pg[1].capacity / sqlite.capacity:.2f}")


if __name__ == "__main__":
    main()
