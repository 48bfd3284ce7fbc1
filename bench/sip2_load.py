"""SIP2 load: N terminals doing checkout+checkin loops on localhost against a demo library on SQLite.

The server runs in its own process, as in production, so the load generator
does not share its interpreter.  Every figure comes with a baseline measured
in the same run, on the same database:

- circulation, closed loop: N terminals each sending its next request as soon
  as the last reply came (the server's capacity): transactions/s, p50/p99;
- circulation, paced: the same terminals offering half that capacity, spread
  evenly (latency when the server is not saturated: what a patron feels);
- gate item information (17) and SC status (99, no database);
- server CPU per request in each phase (the server processes' CPU time over
  the phase, all threads, divided by the requests they answered), against the
  CPU of a bare facade call (``Library.checkout``/``checkin`` with a terminal
  and request key, ``Library.item_circulation``) in this process: the
  difference is what the SIP2 layer costs, and it holds on a busy machine
  where wall-clock rates do not;
- the load generator's own CPU per request: it shares the cores with the
  server, so it is kept lean (frames encoded in advance, replies read only as
  far as the figures need) and shown, so the split is visible.

Both sides run on uvloop when it is installed (``--asyncio``: asyncio's own
loop).  ``--processes N`` runs N server processes on one port (SO_REUSEPORT)
and one database.

    python bench/sip2_load.py                      # 200 terminals, 10 s each phase
    python bench/sip2_load.py --terminals 50 --seconds 5 --profile
    python bench/sip2_load.py --phases gate status --processes 2

In a closed loop latency is terminals / throughput (Little's law): 200
terminals at 2,000 transactions/s wait 100 ms each, whatever the server does;
read p99 from the paced phase.  Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import multiprocessing as mp
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ils_bridge.app import App, Library
from sip2_server import Codec, Message
from sip2_server.codec import checksum, format_date
from ils_bridge.event_loop import fast_loop_factory, run

INSTITUTION = "XZMU"
PASSWORD = "bench-secret"
ACCOUNTS = 4  # terminal accounts the connections share (one scrypt check each)
ITEMS_PER_TERMINAL = 8
PACED_SHARE = 0.5  # the paced phase offers this share of the closed loop's throughput
PHASES = ("circulation", "gate", "status")


# --------------------------------------------------------------------------- the demo library

def build_library(url: str, terminals: int, copies: int) -> None:
    """Patrons P<n>, items I<n>-<k> (``copies`` copies a title), terminal accounts for kiosks and a gate."""
    from sip2_server.terminals import TerminalDirectory

    app = App.open(url, create=True)
    lib = app.create_library((REPO / "policies/examples/xuzhou.yaml").read_text(encoding="utf-8"), author="bench")
    title = 0
    for n in range(terminals + 1):  # the last patron and items are the baseline's
        lib.register_patron(f"P{n}", f"Patron {n}", "phd")
        lib.issue_card(f"P{n}", f"C{n}", valid_until=dt.date(2030, 1, 1))
        for k in range(ITEMS_PER_TERMINAL):
            if (n * ITEMS_PER_TERMINAL + k) % copies == 0:
                title = lib.add_title(f"Bench title {n}-{k}").data["title_id"]
            lib.add_item(f"I{n}-{k}", title, "zh_book", classification="R44")
    directory = TerminalDirectory(app)
    for n in range(ACCOUNTS):
        directory.add("xuzhou", f"kiosk-{n}", PASSWORD, institution_id=INSTITUTION)
    directory.add("xuzhou", "gate", PASSWORD, institution_id=INSTITUTION, kind="gate")
    app.close()


# --------------------------------------------------------------------------- the server process

@dataclass(frozen=True)
class ServerOptions:
    url: str
    workers: int
    profile: bool
    fast_loop: bool
    port: int = 0
    """0: any free port; else the port the first server process bound (SO_REUSEPORT: they share it)."""
    reuse_port: bool = False


def run_server(options: ServerOptions, ready: mp.Queue, control: Connection) -> None:
    """Serve SIP2 until told to stop; on ``cpu`` answer this process's CPU seconds so far (all threads)."""
    from sip2_server.app import create_server
    from sip2_server.config import Sip2Settings

    def answer_control() -> None:
        while control.recv() != "stop":
            control.send(time.process_time())

    async def main() -> None:
        app = App.open(options.url)
        server, backend = create_server(app, Sip2Settings(workers=options.workers), port=options.port,
                                        reuse_port=options.reuse_port)
        await server.start()
        ready.put(server.port)
        await asyncio.get_running_loop().run_in_executor(None, answer_control)
        await server.close()
        backend.close()
        app.close()

    profiler = cProfile.Profile() if options.profile else None
    if profiler:
        profiler.enable()
    run(main(), fast=options.fast_loop)
    if profiler:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        ready.put(out.getvalue())


# --------------------------------------------------------------------------- load

class Terminal(asyncio.Protocol):
    """One SC connection, lean: it sends frames built in advance and reads only what the figures need.

    The load generator shares the machine's cores with the server, so its own CPU per request (printed with
    every phase) is kept small: no message objects, no parsing beyond the reply's first bytes.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r")
        if end >= 0 and self.waiter is not None:
            reply, self.buffer = self.buffer[: end + 1], self.buffer[end + 1 :]
            self.waiter.set_result(reply)
            self.waiter = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("the server closed the connection"))

    @classmethod
    async def open(cls, port: int, login: str) -> Terminal:
        _, terminal = await asyncio.get_running_loop().create_connection(cls, "127.0.0.1", port)
        reply = await terminal.ask(LOGIN_CODEC.encode(
            Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"}).add("CN", login).add("CO", PASSWORD)))
        assert reply.startswith(b"941"), f"login failed: {reply!r}"
        return terminal

    def ask(self, frame: bytes) -> asyncio.Future[bytes]:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(frame)
        return self.waiter

    def close(self) -> None:
        assert self.transport is not None
        self.transport.close()


LOGIN_CODEC = Codec()
PLACEHOLDER = dt.datetime(1999, 12, 31, 23, 59, 59)
"""A transaction date put in request templates, replaced by the current one when the frame is sent."""
PLACEHOLDER_TEXT = format_date(PLACEHOLDER).encode("ascii")


class Template:
    """A request encoded once by the codec (the message layouts live there), with its transaction date and its
    error-detection trailer (AY sequence number, AZ checksum) filled in per send: a few byte operations."""

    def __init__(self, message: Message) -> None:
        self.body = LOGIN_CODEC.encode(message).rstrip(b"\r")
        self.dated = PLACEHOLDER_TEXT in self.body

    def frame(self, sequence: int, date: bytes) -> bytes:
        body = self.body.replace(PLACEHOLDER_TEXT, date, 1) if self.dated else self.body
        body += b"AY%dAZ" % sequence
        return body + checksum(body).encode("ascii") + b"\r"


def checkout(patron: str, item: str) -> Template:
    message = Message("11", {"sc_renewal_policy": "N", "no_block": "N", "transaction_date": PLACEHOLDER,
                             "nb_due_date": None})
    return Template(message.add("AO", INSTITUTION).add("AA", patron).add("AB", item).add("AC", ""))


def checkin(item: str) -> Template:
    message = Message("09", {"no_block": "N", "transaction_date": PLACEHOLDER, "return_date": None})
    return Template(message.add("AP", "main").add("AO", INSTITUTION).add("AB", item).add("AC", ""))


def item_information(item: str) -> Template:
    return Template(Message("17", {"transaction_date": None}).add("AO", INSTITUTION).add("AB", item))


SC_STATUS = Template(Message("99", {"status_code": "0", "max_print_width": "080", "protocol_version": "2.00"}))


def refused(reply: bytes) -> bool:
    """Does the reply say no?  Checkout or checkin ok 0, or an item information for an unknown item (status 01)."""
    return reply[:3] in (b"120", b"100") or reply[:4] == b"1801"


class Clock:
    """The SIP2 date of now, formatted once a second (requests carry it for idempotency)."""

    def __init__(self) -> None:
        self.second, self.text = -1, b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second, self.text = now, format_date(dt.datetime.fromtimestamp(now)).encode("ascii")
        return self.text


@dataclass
class PhaseResult:
    requests: int = 0
    seconds: float = 0.0
    refusals: int = 0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    sample: bytes = b""
    """One reply of the phase, decoded in full by the report as a check that the server answered properly."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu / max(self.requests, 1)

    @property
    def client_cpu_per_request(self) -> float:
        return self.client_cpu / max(self.requests, 1)


Requests = Callable[[int, int], list[Template]]
"""(terminal number, round) -> the requests of one round, sent one after another."""


async def phase(port: int, logins: list[str], seconds: float, requests: Requests, server_cpu: Callable[[], float],
                round_interval: float | None = None) -> PhaseResult:
    """Every connection logs in; then, for ``seconds``, sends its rounds of requests, either as fast as replies
    come (``round_interval`` None) or one round every ``round_interval`` seconds, start times spread evenly."""
    result = PhaseResult()
    terminals = [await Terminal.open(port, login) for login in logins]
    clock = Clock()
    cpu_before, client_before, began = server_cpu(), time.process_time(), time.perf_counter()
    deadline = began + seconds

    async def run(n: int, terminal: Terminal) -> None:
        next_round = began + (round_interval or 0.0) * n / len(terminals)
        k = sequence = 0
        latencies = result.latencies
        while (now := time.perf_counter()) < deadline:
            if round_interval is not None:
                if next_round > now:
                    await asyncio.sleep(next_round - now)
                next_round += round_interval
            for request in requests(n, k):
                start = time.perf_counter()
                reply = await terminal.ask(request.frame(sequence, clock.date()))
                latencies.append(time.perf_counter() - start)
                sequence = (sequence + 1) % 10
                result.refusals += refused(reply)
                result.requests += 1
            k += 1
        result.sample = reply

    await asyncio.gather(*(run(n, t) for n, t in enumerate(terminals)))
    result.seconds = time.perf_counter() - began
    result.client_cpu = time.process_time() - client_before
    result.server_cpu = server_cpu() - cpu_before
    for terminal in terminals:
        terminal.close()
    return result


def circulation_rounds(terminals: int) -> Requests:
    rounds = [[(checkout(f"P{n}", f"I{n}-{k}"), checkin(f"I{n}-{k}")) for k in range(ITEMS_PER_TERMINAL)]
              for n in range(terminals)]
    return lambda n, k: rounds[n][k % ITEMS_PER_TERMINAL]


# --------------------------------------------------------------------------- baselines (in this process)

@dataclass
class Baseline:
    rate: float
    cpu_per_call: float
    latencies: list[float]


def measure(calls: Callable[[int], None], per_round: int, seconds: float) -> Baseline:
    """Run ``calls(round)`` (``per_round`` facade calls each) for ``seconds`` in one thread."""
    latencies: list[float] = []
    done, k = 0, 0
    cpu_before, began = time.process_time(), time.perf_counter()
    while time.perf_counter() - began < seconds:
        start = time.perf_counter()
        calls(k)
        latencies.append((time.perf_counter() - start) / per_round)
        done += per_round
        k += 1
    elapsed = time.perf_counter() - began
    return Baseline(done / elapsed, (time.process_time() - cpu_before) / done, latencies)


def bare_circulation(lib: Library, n: int, seconds: float) -> Baseline:
    """``Library.checkout`` + ``checkin`` as the SIP2 handlers call them (terminal, request key)."""
    def one_round(k: int) -> None:
        item = f"I{n}-{k % ITEMS_PER_TERMINAL}"
        assert lib.checkout(f"P{n}", item, terminal="kiosk-0", request_key=f"bench:{k}:out").ok
        assert lib.checkin(item, terminal="kiosk-0", request_key=f"bench:{k}:in").ok

    return measure(one_round, 2, seconds)


def bare_item_circulation(lib: Library, items: list[str], seconds: float) -> Baseline:
    """The gate handler's one facade call."""
    rng = random.Random(0)
    return measure(lambda k: lib.item_circulation(rng.choice(items)), 1, seconds)


def check_reply(phase_name: str, reply: bytes) -> None:
    """Decode one reply of a phase in full: the lean load generator reads only first bytes of the others."""
    try:
        LOGIN_CODEC.decode(reply)
    except Exception as exc:  # a figure from a server that answers garbage is worth nothing
        raise SystemExit(f"{phase_name}: the server's reply {reply!r} does not decode: {exc}") from exc


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# --------------------------------------------------------------------------- the run

async def load(port: int, args: argparse.Namespace, server_cpu: Callable[[], float]) -> dict[str, PhaseResult]:
    kiosks = [f"kiosk-{n % ACCOUNTS}" for n in range(args.terminals)]
    gates = ["gate"] * args.gates
    items = [item_information(f"I{n}-{k}") for n in range(args.terminals) for k in range(ITEMS_PER_TERMINAL)]
    rng = random.Random(1)
    circulation_round = circulation_rounds(args.terminals)

    def run(logins: list[str], requests: Requests, seconds: float, interval: float | None = None) -> Awaitable[PhaseResult]:
        return phase(port, logins, seconds, requests, server_cpu, interval)

    results: dict[str, PhaseResult] = {}
    if "circulation" in args.phases:
        results["closed"] = await run(kiosks, circulation_round, args.seconds)
        offered = PACED_SHARE * results["closed"].rate / 2  # rounds/s in all (a round is two requests)
        results["paced"] = await run(kiosks, circulation_round, args.seconds, args.terminals / offered)
    if "gate" in args.phases:
        results["gate"] = await run(gates, lambda n, k: [rng.choice(items)], args.seconds)
    if "status" in args.phases:
        results["status"] = await run(gates, lambda n, k: [SC_STATUS], args.seconds / 2)
    return results


def report(args: argparse.Namespace, results: dict[str, PhaseResult], circulation: Baseline | None,
           gate: Baseline | None) -> None:
    if circulation is not None:
        report_circulation(args, results["closed"], results["paced"], circulation)
    if gate is not None:
        gate_phase = results["gate"]
        print(f"gate item information, {args.gates} connections: {gate_phase.rate:,.0f}/s, "
              f"p99 {ms(percentile(gate_phase.latencies, .99))}, server CPU {ms(gate_phase.cpu_per_request)} a request, "
              f"load generator CPU {ms(gate_phase.client_cpu_per_request)}")
        print(f"  bare Library.item_circulation: {gate.rate:,.0f}/s, CPU {ms(gate.cpu_per_call)} a call;  SIP2 / bare: "
              f"throughput {gate_phase.rate / gate.rate:.2f}, CPU {gate_phase.cpu_per_request / gate.cpu_per_call:.2f};  "
              f"the SIP2 layer's own CPU: {ms(gate_phase.cpu_per_request - gate.cpu_per_call)} a request")
    if "status" in results:
        status = results["status"]
        print(f"SC status (no database: the SIP2 layer alone), {args.gates} connections: {status.rate:,.0f}/s, "
              f"server CPU {ms(status.cpu_per_request)} a request, load generator CPU {ms(status.client_cpu_per_request)}")
    for name, result in results.items():
        check_reply(name, result.sample)


def report_circulation(args: argparse.Namespace, closed: PhaseResult, paced: PhaseResult, circulation: Baseline) -> None:
    print(f"\nSIP2 checkout+checkin, {args.terminals} terminals, {args.seconds:.0f} s per phase:")
    print(f"  closed loop: {closed.rate:,.0f} transactions/s, p50 {ms(percentile(closed.latencies, .5))}, "
          f"p99 {ms(percentile(closed.latencies, .99))}   (p50 ~ terminals / rate: {ms(args.terminals / closed.rate)})")
    print(f"  paced at {paced.rate:,.0f}/s ({PACED_SHARE:.0%} of that): p50 {ms(percentile(paced.latencies, .5))}, "
          f"p99 {ms(percentile(paced.latencies, .99))}")
    print(f"  refusals: {closed.refusals + paced.refusals} of {closed.requests + paced.requests}")
    print(f"  server CPU per transaction: {ms(closed.cpu_per_request)}, "
          f"load generator CPU {ms(closed.client_cpu_per_request)}")
    print("bare facade in this process (checkout + checkin with terminal and request key, one thread):")
    print(f"  {circulation.rate:,.0f} calls/s, p50 {ms(statistics.median(circulation.latencies))}, "
          f"p99 {ms(percentile(circulation.latencies, .99))}, CPU {ms(circulation.cpu_per_call)} a call")
    print(f"  SIP2 / bare: throughput {closed.rate / circulation.rate:.2f}, "
          f"CPU per transaction {closed.cpu_per_request / circulation.cpu_per_call:.2f};  "
          f"the SIP2 layer's own CPU: {ms(closed.cpu_per_request - circulation.cpu_per_call)} a transaction")


class ServerProcesses:
    """``count`` server processes on one port (SO_REUSEPORT when more than one) and one database."""

    def __init__(self, options: ServerOptions, count: int) -> None:
        self.options = options
        self._context = mp.get_context("spawn")
        self._ready: mp.Queue = self._context.Queue()
        self._processes: list[tuple[mp.Process, Connection]] = []
        self._start(options)
        self.port = self._ready.get(timeout=60)
        for _ in range(count - 1):
            self._start(replace(options, port=self.port))
            self._ready.get(timeout=60)

    def _start(self, options: ServerOptions) -> None:
        control, server_end = self._context.Pipe()
        process = self._context.Process(target=run_server, args=(options, self._ready, server_end))
        process.start()
        self._processes.append((process, control))

    def cpu(self) -> float:
        """CPU seconds of every server process so far (all threads)."""
        total = 0.0
        for _, control in self._processes:
            control.send("cpu")
            total += control.recv()
        return total

    def stop(self) -> str | None:
        """Stop them; the first one's profile when profiling."""
        for _, control in self._processes:
            control.send("stop")
        profiles = [self._ready.get(timeout=60) for _ in self._processes] if self.options.profile else []
        for process, _ in self._processes:
            process.join(60)
        return profiles[0] if profiles else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--gates", type=int, default=20, help="gate connections for the item-information phase")
    parser.add_argument("--workers", type=int, default=16, help="server threads for service calls")
    parser.add_argument("--profile", action="store_true", help="profile the server's event loop and print the top calls")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES),
                        help="which phases to run (e.g. only 'status' to profile the SIP2 layer alone)")
    parser.add_argument("--copies", type=int, default=4, help="copies of each title in the demo library")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes sharing the port (SO_REUSEPORT) and the database")
    parser.add_argument("--asyncio", action="store_true",
                        help="asyncio's own event loop in the server and the load generator, even if uvloop is installed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        began = time.perf_counter()
        build_library(url, args.terminals, args.copies)
        print(f"demo library: {args.terminals + 1} patrons, {(args.terminals + 1) * ITEMS_PER_TERMINAL} items, "
              f"{args.copies} copies a title ({time.perf_counter() - began:.1f} s); event loops: "
              f"{'asyncio' if args.asyncio or fast_loop_factory() is None else 'uvloop'}; "
              f"{args.processes} server process{'es' if args.processes > 1 else ''}")

        options = ServerOptions(url, args.workers, args.profile, not args.asyncio, reuse_port=args.processes > 1)
        servers = ServerProcesses(options, args.processes)
        try:
            results = run(load(servers.port, args, servers.cpu), fast=not args.asyncio)
        finally:
            profile = servers.stop()

        app = App.open(url)
        lib = app.library("xuzhou")
        n = args.terminals
        circulation = bare_circulation(lib, n, args.seconds / 2) if "circulation" in args.phases else None
        gate = bare_item_circulation(lib, [f"I{t}-{k}" for t in range(n) for k in range(ITEMS_PER_TERMINAL)],
                              args.seconds / 2) if "gate" in args.phases else None
        app.close()

    report(args, results, circulation, gate)
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores: wall-clock rates are only comparable at similar load, CPU per request is")
    if profile:
        print("\nserver profile (event loop thread, own time):\n" + profile)


if __name__ == "__main__":
    main()
