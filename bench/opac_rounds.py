#!/usr/bin/env python3
"""Before/after against Zebra on a busy machine: three servers, measured in
alternating rounds, so each round's ratios share the same load.

Needs an indexed SQLite catalogue (``--db``), a Zebra anchor work directory
left by ``KEEP=1 ../shared/zebra-anchor/run.sh N`` (same N records), its
query file, and a source tree of the code to compare with::

    git archive BASELINE marc ils_bridge policies | tar -x -C /tmp/baseline
    python bench/opac_rounds.py --db opac.db --zebra /tmp/zebra-anchor.XXXX \\
        --queries /tmp/zebra-anchor.XXXX/queries.json --baseline /tmp/baseline --rounds 3

Prints, per round, each server's Z39.50 and SRU figures (bench.py's names),
the server's CPU time per request (from /proc: user + system, with
zebrasrv's forked per-connection children), the load average, and the
ratios to Zebra; at the end, per metric, the median and range of each
round's ratio.  CPU per request varies far less with the machine's load
than latency does.  ``--uvloop`` adds a fourth
server: this tree again, on uvloop's event loop (``pip install uvloop``).
The order of the servers turns by one each round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from opac_vs_zebra import anchor, metrics

KEYS = ("z3950_search_present_p50_ms", "z3950_search_present_p99_ms", "z3950_search_present_per_s",
        "z3950_search_only_p50_ms", "z3950_present1_p50_ms", "z3950_cpu_us_per_search_present",
        "sru_keepalive_p50_ms", "sru_keepalive_p99_ms", "sru_cpu_us_per_request")
SERVE = """
import asyncio, signal, sys
import sqlalchemy
from marc.search import open_index
from marc.sru.server import SruServer
from marc.z3950.server import Z3950Server
engine = sqlalchemy.create_engine(sys.argv[1])
async def main():
    index = open_index(engine)
    servers = [Z3950Server(engine, port=int(sys.argv[2]), index=index), SruServer(engine, port=int(sys.argv[3]), index=index)]
    for server in servers:
        await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        await server.stop()
if sys.argv[4] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def ours(tree: Path, db: Path, loop: str = "asyncio") -> tuple[subprocess.Popen, int, int]:
    z, s = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(tree)}
    process = subprocess.Popen([sys.executable, "-c", SERVE, f"sqlite:///{db}", str(z), str(s), loop], env=env, cwd=tree)
    try:
        wait_for(z)
    except SystemExit:
        stop([process])
        raise
    return process, z, s


def zebra(work: Path) -> tuple[subprocess.Popen, int]:
    port = int(re.search(r"127\.0\.0\.1:(\d+)", (work / "yazgfs.xml").read_text()).group(1))
    process = subprocess.Popen(["zebrasrv", "-f", "yazgfs.xml", "-l", "rounds.log"], cwd=work)
    try:
        wait_for(port)
    except SystemExit:
        stop([process])
        raise
    return process, port


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its children it has waited for (zebrasrv forks one per connection)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def measure(queries: Path, pid: int, z_port: int, sru_url: str) -> dict[str, str]:
    """bench.py's figures, plus the server's CPU per request (bench.py sends its 50 warm-up queries, then all)."""
    requests = len(json.loads(queries.read_text())) + 50
    before = cpu_seconds(pid)
    out = metrics(anchor("z3950", str(queries), "127.0.0.1", str(z_port), "Default"))
    time.sleep(0.3)  # zebrasrv reaps the connection's process
    middle = cpu_seconds(pid)
    out |= metrics(anchor("sru", str(queries), sru_url))
    time.sleep(0.3)
    out["z3950_cpu_us_per_search_present"] = f"{(middle - before) / requests * 1e6:.0f}"
    out["sru_cpu_us_per_request"] = f"{(cpu_seconds(pid) - middle) / requests * 1e6:.0f}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--zebra", type=Path, required=True, help="anchor work directory (KEEP=1)")
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True, help="source tree of the code to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uvloop", action="store_true", help="also measure this tree on uvloop")
    args = parser.parse_args()
    started: list[subprocess.Popen] = []
    try:
        zebra_process, zebra_port = zebra(args.zebra)
        started.append(zebra_process)
        after, after_z, after_s = ours(REPO, args.db.resolve())
        started.append(after)
        before, before_z, before_s = ours(args.baseline, args.db.resolve())
        started.append(before)
        targets = {
            "zebra": (zebra_process.pid, zebra_port, f"http://127.0.0.1:{zebra_port}/Default"),
            "after": (after.pid, after_z, f"http://127.0.0.1:{after_s}/opac"),
            "before": (before.pid, before_z, f"http://127.0.0.1:{before_s}/opac"),
        }
        if args.uvloop:
            fast, fast_z, fast_s = ours(REPO, args.db.resolve(), "uvloop")
            started.append(fast)
            targets["after-uv"] = (fast.pid, fast_z, f"http://127.0.0.1:{fast_s}/opac")
        names = list(targets)
        ours_names = [n for n in names if n != "zebra"]
        ratios: dict[tuple[str, str], list[float]] = {}
        for round_number in range(1, args.rounds + 1):
            turn = (round_number - 1) % len(names)
            figures = {name: measure(args.queries, *targets[name]) for name in names[turn:] + names[:turn]}
            print(f"# round {round_number}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"{'metric':34} {'zebra':>9} " + " ".join(f"{n:>9}" for n in ours_names) + " " + " ".join(f"{n + '/z':>10}" for n in ours_names))
            for key in KEYS:
                z = float(figures["zebra"].get(key, "nan"))
                values = [float(figures[n].get(key, "nan")) for n in ours_names]
                for name, value in zip(ours_names, values):
                    ratios.setdefault((key, name), []).append(value / z)
                print(f"{key:34} {z:9.3f} " + " ".join(f"{v:9.3f}" for v in values) + " " + " ".join(f"{v / z:10.2f}" for v in values), flush=True)
        print(f"# ratio to Zebra over {args.rounds} rounds: median (lowest-highest)")
        for key in KEYS:
            cells = [ratios[(key, n)] for n in ours_names]
            print(f"{key:34} " + " ".join(f"{n}: {statistics.median(c):.2f} ({min(c):.2f}-{max(c):.2f})" for n, c in zip(ours_names, cells)))
    finally:
        stop(started)


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each server we started (and zebrasrv's forked children), then wait."""
    for process in processes:
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False).stdout.split()
        for child in children:
            os.kill(int(child), signal.SIGTERM)
        process.terminate()
    for process in processes:
        process.wait(30)


if __name__ == "__main__":
    main()
