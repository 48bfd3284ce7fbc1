"""SIP2 load: N terminals doing checkout+checkin loops on localhost against a demo library on SQLite.

Prints transactions/s, p50/p99 latency, the ratio to bare service-layer
calls (``Library.checkout`` + ``checkin`` in-process, measured in the same
run on the same database), and the gate's item-information rate.  The server
runs in its own process, as in production, so the load generator does not
share its interpreter.

    python bench/sip2_load.py                      # 200 terminals, 10 s each phase
    python bench/sip2_load.py --terminals 50 --seconds 5 --profile

Targets (2 cores, SQLite): >= 2,000 transactions/s with p99 < 20 ms;
gate item information >= 10,000/s.  Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import multiprocessing as mp
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ils_bridge.app import App, Library
from sip2_server import Codec, Message

INSTITUTION = "XZMU"
PASSWORD = "bench-secret"
ACCOUNTS = 4  # terminal accounts the connections share (one scrypt check each)
ITEMS_PER_TERMINAL = 8


# --------------------------------------------------------------------------- the demo library

def build_library(url: str, terminals: int) -> None:
    from sip2_server.terminals import TerminalDirectory

    app = App.open(url, create=True)
    lib = app.create_library((REPO / "policies/examples/xuzhou.yaml").read_text(encoding="utf-8"), author="bench")
    title = lib.add_title("Bench title").data["title_id"]
    for n in range(terminals + 1):  # the last patron and items are the baseline's
        lib.register_patron(f"P{n}", f"Patron {n}", "phd")
        lib.issue_card(f"P{n}", f"C{n}", valid_until=dt.date(2030, 1, 1))
        for k in range(ITEMS_PER_TERMINAL):
            lib.add_item(f"I{n}-{k}", title, "zh_book", classification="R44")
    directory = TerminalDirectory(app)
    for n in range(ACCOUNTS):
        directory.add("xuzhou", f"kiosk-{n}", PASSWORD, institution_id=INSTITUTION)
    directory.add("xuzhou", "gate", PASSWORD, institution_id=INSTITUTION, kind="gate")
    app.close()


# --------------------------------------------------------------------------- the server process

def run_server(url: str, ready: mp.Queue, stop: mp.Event, workers: int, profile: bool) -> None:
    from sip2_server.app import create_server
    from sip2_server.config import Sip2Settings

    async def main() -> None:
        app = App.open(url)
        server, backend = create_server(app, Sip2Settings(workers=workers), port=0)
        await server.start()
        ready.put(server.port)
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await server.close()
        backend.close()
        app.close()

    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    asyncio.run(main())
    if profiler:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        ready.put(out.getvalue())


# --------------------------------------------------------------------------- load

class Terminal:
    """One SC connection speaking SIP2 with sequence numbers and checksums, as kiosks do."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.codec, self.sequence = reader, writer, Codec(), 0

    @classmethod
    async def open(cls, port: int, login: str) -> Terminal:
        terminal = cls(*await asyncio.open_connection("127.0.0.1", port))
        reply = await terminal.ask(Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"}).add("CN", login).add("CO", PASSWORD))
        assert reply.fixed["ok"] == "1", "login failed"
        return terminal

    async def ask(self, message: Message) -> Message:
        self.writer.write(self.codec.encode(message, sequence=self.sequence, checksum=True))
        self.sequence = (self.sequence + 1) % 10
        await self.writer.drain()
        return self.codec.decode(await self.reader.readuntil(b"\r"))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def checkout(patron: str, item: str) -> Message:
    message = Message("11", {"sc_renewal_policy": "N", "no_block": "N", "transaction_date": dt.datetime.now(),
                             "nb_due_date": None})
    return message.add("AO", INSTITUTION).add("AA", patron).add("AB", item).add("AC", "")


def checkin(item: str) -> Message:
    message = Message("09", {"no_block": "N", "transaction_date": dt.datetime.now(), "return_date": None})
    return message.add("AP", "main").add("AO", INSTITUTION).add("AB", item).add("AC", "")


def item_information(item: str) -> Message:
    return Message("17", {"transaction_date": None}).add("AO", INSTITUTION).add("AB", item)


async def circulation_load(port: int, terminals: int, seconds: float) -> tuple[int, list[float], int]:
    """Every terminal loops checkout+checkin over its own items; returns (transactions, latencies, refusals)."""
    latencies: list[float] = []
    refusals, logged_in, deadline = 0, 0, 0.0
    everyone_in, started = asyncio.Event(), asyncio.Event()

    async def one(n: int) -> int:
        nonlocal refusals, logged_in
        terminal = await Terminal.open(port, f"kiosk-{n % ACCOUNTS}")
        logged_in += 1
        if logged_in == terminals:
            everyone_in.set()
        await started.wait()
        done, k = 0, 0
        while time.perf_counter() < deadline:
            item = f"I{n}-{k % ITEMS_PER_TERMINAL}"
            for request in (checkout(f"P{n}", item), checkin(item)):
                begin = time.perf_counter()
                reply = await terminal.ask(request)
                latencies.append(time.perf_counter() - begin)
                refusals += reply.fixed["ok"] != "1"
                done += 1
            k += 1
        await terminal.close()
        return done

    tasks = [asyncio.create_task(one(n)) for n in range(terminals)]
    await asyncio.wait_for(everyone_in.wait(), 120)
    deadline = time.perf_counter() + seconds
    started.set()
    counts = await asyncio.gather(*tasks)
    return sum(counts), latencies, refusals


SC_STATUS = Message("99", {"status_code": "0", "max_print_width": "080", "protocol_version": "2.00"})


async def gate_load(port: int, connections: int, seconds: float, items: list[str] | None) -> int:
    """Gates asking about random items (or, with ``items`` None, SC status: the server without the database)."""
    deadline = time.perf_counter() + seconds

    async def one(n: int) -> int:
        terminal = await Terminal.open(port, "gate")
        rng, done = random.Random(n), 0
        while time.perf_counter() < deadline:
            reply = await terminal.ask(item_information(rng.choice(items)) if items else SC_STATUS)
            assert reply.id in ("18", "98")
            done += 1
        await terminal.close()
        return done

    return sum(await asyncio.gather(*(one(n) for n in range(connections))))


def baseline(lib: Library, patron: str, items: list[str], seconds: float) -> tuple[float, list[float]]:
    """Bare facade calls, in-process and single-threaded: transactions/s and per-call latencies."""
    latencies, done, k = [], 0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        item = items[k % len(items)]
        for call, args in ((lib.checkout, (patron, item)), (lib.checkin, (item,))):
            begin = time.perf_counter()
            outcome = call(*args)
            latencies.append(time.perf_counter() - begin)
            assert outcome.ok, outcome
            done += 1
        k += 1
    return done / seconds, latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--gates", type=int, default=20, help="gate connections for the item-information phase")
    parser.add_argument("--workers", type=int, default=16, help="server threads for service calls")
    parser.add_argument("--profile", action="store_true", help="profile the server process and print the top calls")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        began = time.perf_counter()
        build_library(url, args.terminals)
        print(f"demo library: {args.terminals + 1} patrons, {(args.terminals + 1) * ITEMS_PER_TERMINAL} items "
              f"({time.perf_counter() - began:.1f} s)")

        ctx = mp.get_context("spawn")
        ready, stop = ctx.Queue(), ctx.Event()
        server = ctx.Process(target=run_server, args=(url, ready, stop, args.workers, args.profile))
        server.start()
        port = ready.get(timeout=60)
        try:
            transactions, latencies, refusals = asyncio.run(circulation_load(port, args.terminals, args.seconds))
            gate_items = [f"I{n}-{k}" for n in range(args.terminals) for k in range(ITEMS_PER_TERMINAL)]
            gate = asyncio.run(gate_load(port, args.gates, args.seconds, gate_items))
            status = asyncio.run(gate_load(port, args.gates, args.seconds / 2, None))
        finally:
            stop.set()
            profile = ready.get(timeout=60) if args.profile else None
            server.join(60)

        app = App.open(url)
        lib = app.library("xuzhou")
        n = args.terminals
        bare_rate, bare_latencies = baseline(lib, f"P{n}", [f"I{n}-{k}" for k in range(ITEMS_PER_TERMINAL)], args.seconds / 2)
        app.close()

    rate = transactions / args.seconds
    print(f"\nSIP2 checkout+checkin, {args.terminals} terminals, {args.seconds:.0f} s:")
    print(f"  {rate:,.0f} transactions/s   (target >= 2,000)")
    print(f"  latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
          f"   (target p99 < 20 ms)")
    print(f"  refusals: {refusals} of {transactions}")
    print("bare service layer (Library.checkout + checkin in-process, one thread):")
    print(f"  {bare_rate:,.0f} transactions/s, p50 {statistics.median(bare_latencies) * 1000:.2f} ms, "
          f"p99 {percentile(bare_latencies, 0.99) * 1000:.2f} ms")
    print(f"  SIP2 / bare = {rate / bare_rate:.2f}")
    print(f"gate item information, {args.gates} connections: {gate / args.seconds:,.0f}/s   (target >= 10,000)")
    print(f"SC status (no database: the SIP2 layer's own ceiling), {args.gates} connections: "
          f"{status / (args.seconds / 2):,.0f}/s")
    if profile:
        print("\nserver profile (cumulative):\n" + profile)


if __name__ == "__main__":
    main()
