"""MARC import throughput and memory, against pymarc's bare parse rate in the same run.

    python bench/marc_import.py [--source BooksAll.2016.part01.utf8] [--records 50000]
                                [--small 10000] [--large 1000000] [--skip-memory] [--breakdown]
                                [--rounds 3]

1. Throughput on the first ``--records`` LoC records: pymarc's MARCReader
   alone (the baseline), our reader with the pymarc and the rmarc decoder,
   and a full import (match, split holdings, store, index) into a SQLite
   file with each decoder, with the time of the search index merge that ends
   an import of 5,000 records or more.  Figures are records/s and ratios to
   the baseline, in wall-clock time and in CPU time of this process.
2. With ``--breakdown``, where an import's CPU goes per record: timers
   around each stage of one more import (rmarc when installed), next to
   pymarc's bare parse per record.
3. Peak memory (max RSS of a child process, plus that of its reading
   process) importing ``--small`` and ``--large`` generated records (LoC
   templates with fresh 001s): streaming means the two should be close (the
   growth factor is printed).

The throughput part ends with ``--rounds`` alternating rounds of pymarc's
parse, an import in one process and an import with a reading process, each
with its CPU per record in the importing and the reading process.

The source file comes from pymarc's sdist (BooksAll.2016.part01.utf8).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymarc  # noqa: E402
import sqlalchemy  # noqa: E402

from ils_bridge.services import catalogue as catalogue_service  # noqa: E402
from ils_bridge.services.catalogue import Catalogue  # noqa: E402
from ils_bridge.storage.schema import libraries, metadata  # noqa: E402
from marc import importer, matching, reading  # noqa: E402
from marc.importer import import_files  # noqa: E402
from marc.reading import read_records  # noqa: E402
from marc.search import index as search_index  # noqa: E402
from marc.search import sqlite_fts  # noqa: E402

DEFAULT_SOURCE = Path("/tmp/pymarc-5.4.0/BooksAll.2016.part01.utf8")


def first_records(source: Path, count: int, destination: Path) -> int:
    """Copy the first ``count`` raw records of the source file; returns the number copied."""
    copied = 0
    with open(source, "rb") as stream, open(destination, "wb") as out:
        for raw in itertools.islice(_raw_records(stream), count):
            out.write(raw)
            copied += 1
    return copied


def _raw_records(stream):
    buffer = b""
    while block := stream.read(1 << 20):
        buffer += block
        *records, buffer = buffer.split(b"\x1d")
        for record in records:
            yield record + b"\x1d"


def generate(source: Path, count: int, destination: Path) -> None:
    """``count`` records: LoC templates whose 001 (same length) is replaced by a unique number."""
    with open(source, "rb") as stream:
        templates = [raw for raw in itertools.islice(_raw_records(stream), 2000) if raw[24:27] == b"001"]
    with open(destination, "wb") as out:
        for number in range(count):
            raw = templates[number % len(templates)]
            base, length = int(raw[12:17]), int(raw[27:31])
            unique = f"G{number:0{length - 2}d}".encode()[: length - 1]
            out.write(raw[:base] + unique + raw[base + length - 1 :])


def rate(label: str, work, records: int, baseline: tuple[float, float] | None) -> tuple[float, float]:
    """Records per wall-clock second and per CPU second of this process; ratios to the baseline's.

    On a shared machine the CPU-time ratio is the steadier of the two (other
    processes stretch wall-clock time, not this one's CPU time)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    work()
    per_second = records / (time.perf_counter() - started)
    per_cpu_second = records / max(time.process_time() - cpu_started, 1e-9)
    ratio = (
        f"  {per_second / baseline[0]:5.2f}x pymarc parse ({per_cpu_second / baseline[1]:4.2f}x in CPU time)"
        if baseline
        else ""
    )
    print(f"  {label:<38} {per_second:10,.0f} records/s{ratio}", flush=True)
    return per_second, per_cpu_second


def new_catalogue(directory: Path, name: str) -> Catalogue:
    engine = sqlalchemy.create_engine(f"sqlite:///{directory / name}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(libraries.insert().values(id=1, code="bench", name="Bench", currency="USD", timezone="UTC"))
    return Catalogue(engine, 1)


def throughput(source: Path, count: int, work_dir: Path, parsers: list[str], stages: bool, rounds: int) -> None:
    sample = work_dir / "sample.mrc"
    records = first_records(source, count, sample)
    print(f"Throughput on the first {records:,} records of {source.name}")

    def pymarc_parse() -> None:
        with open(sample, "rb") as stream:
            for _ in pymarc.MARCReader(stream):
                pass

    baseline = rate("pymarc MARCReader (baseline)", pymarc_parse, records, None)
    for parser in parsers:
        rate(
            f"read_records, {parser} decoder",
            lambda p=parser: sum(1 for _ in read_records(sample, parser=p)),
            records,
            baseline,
        )
    merges = {}
    for parser in parsers:
        catalogue = new_catalogue(work_dir, f"{parser}.db")

        def run_import(c=catalogue, p=parser) -> None:
            merges[p] = import_files(c, [sample], parser=p, workers=0).index_merge_seconds

        rate(f"import_files, {parser} decoder, one process", run_import, records, baseline)
    for parser, seconds in merges.items():
        merged = f"{seconds:.2f} s, included above" if seconds is not None else "not run (a small import)"
        print(f"  search index merge at the end of the {parser} import: {merged}")
    if stages:
        breakdown(sample, records, work_dir, parsers[-1])
    alternate(sample, records, work_dir, parsers[-1], rounds, pymarc_parse)


def alternate(sample: Path, records: int, work_dir: Path, parser: str, rounds: int, pymarc_parse) -> None:
    """Rounds of (pymarc parse, import in one process, import with a reading process), in turn.

    Each import's CPU is split into this process's and the reading
    process's (children's CPU, counted once the reader has been waited for)."""
    print(f"Alternating rounds ({parser} decoder): wall-clock ratio to the same round's pymarc parse")
    ratios: dict[int, list[float]] = {0: [], 1: []}
    for number in range(1, rounds + 1):
        parse = measure(pymarc_parse)
        line = [f"  round {number}: pymarc {records / parse[0]:7,.0f}/s"]
        for workers in (0, 1):
            catalogue = new_catalogue(work_dir, f"round-{number}-{workers}.db")
            wall, main_cpu, reader_cpu = measure(lambda c=catalogue, w=workers: import_files(c, [sample], parser=parser, workers=w))
            ratios[workers].append(parse[0] / wall)
            line.append(
                f"{'reader' if workers else 'one process'} {records / wall:7,.0f}/s {parse[0] / wall:4.2f}x"
                f" (CPU us/record: main {main_cpu / records * 1e6:4.0f}, reader {reader_cpu / records * 1e6:4.0f})"
            )
        print(" | ".join(line), flush=True)
    for workers, label in ((0, "one process"), (1, "with a reading process")):
        print(f"  median ratio, {label}: {statistics.median(ratios[workers]):.2f}x the pymarc parse rate")


def measure(work) -> tuple[float, float, float]:
    """(wall seconds, this process's CPU seconds, children's CPU seconds) of ``work()``."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, cpu_started = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, cpu, (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)


# (label, owner, attribute) of the functions timed by ``--breakdown``; nested
# stages are listed after the stage that calls them and their time is shown
# inside it.
STAGES = [
    ("reading (decode and checks)", reading, "_read_one_iso2709"),
    ("  of which the decoder", reading._Decoder, "__call__"),
    ("catalogue entry", importer, "catalogue_entry"),
    ("  of which match keys", matching, "match_keys"),
    ("matching (one query a batch)", catalogue_service.CatalogueBatch, "find_matches"),
    ("catalogue inserts", catalogue_service.CatalogueBatch, "add_many"),
    ("search index, in all", search_index.SearchIndex, "reindex"),
    ("  field extraction", search_index, "extract"),
    ("  tokenising (index_texts)", search_index, "index_texts"),
    ("  full-text insert", sqlite_fts.SqliteIndex, "_write_texts"),
]


@contextlib.contextmanager
def stage_timers(totals: dict[str, float]):
    """Wrap each stage's function with a CPU-time accumulator, for the duration of the block."""
    originals = []
    for label, owner, name in STAGES:
        original = owner.__dict__[name]
        function = original.__func__ if isinstance(original, staticmethod) else original

        def timed(*args, _function=function, _label=label, **kwargs):
            started = time.process_time()
            try:
                return _function(*args, **kwargs)
            finally:
                totals[_label] = totals.get(_label, 0.0) + time.process_time() - started

        setattr(owner, name, staticmethod(timed) if isinstance(original, staticmethod) else timed)
        originals.append((owner, name, original))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def breakdown(sample: Path, records: int, work_dir: Path, parser: str) -> None:
    """Per-record CPU of each stage of one import, against pymarc's bare parse."""
    started = time.process_time()
    with open(sample, "rb") as stream:
        for _ in pymarc.MARCReader(stream):
            pass
    baseline = (time.process_time() - started) / records * 1e6
    totals: dict[str, float] = {}
    catalogue = new_catalogue(work_dir, f"breakdown-{parser}.db")
    started = time.process_time()
    with stage_timers(totals):
        import_files(catalogue, [sample], parser=parser, workers=0)  # the timers see one process only
    whole = (time.process_time() - started) / records * 1e6
    print(f"Where an import's CPU goes ({parser} decoder, us per record; timers add a little)")
    print(f"  {'pymarc bare parse (baseline)':<34} {baseline:7.0f}")
    print(f"  {'import, in all':<34} {whole:7.0f}   {baseline / whole:4.2f}x the baseline's rate")
    for label, _, _ in STAGES:
        print(f"  {label:<34} {totals.get(label, 0.0) / records * 1e6:7.0f}")
    top_level = sum(totals.get(label, 0.0) for label, _, _ in STAGES if not label.startswith(" "))
    print(f"  {'the rest (batching, commits, ...)':<34} {whole - top_level / records * 1e6:7.0f}")


def peak_memory(source: Path, sizes: list[int], work_dir: Path) -> None:
    print("Peak memory of an import (max RSS of a fresh process)")
    peaks = []
    for size in sizes:
        generated = work_dir / f"generated-{size}.mrc"
        generate(source, size, generated)
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, __file__, "--child-import", str(generated), "--work-dir", str(work_dir)],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        seconds = time.perf_counter() - started
        print(
            f"  {size:>9,} records: peak {figures['max_rss_mb']:7.1f} MB (importing {figures['importing_mb']:.1f}"
            f" + reading process {figures['reading_mb']:.1f}), "
            f"{figures['added']:,} added in {seconds:.0f} s ({size / seconds:,.0f} records/s)",
            flush=True,
        )
        generated.unlink()
        peaks.append(figures["max_rss_mb"])
    if len(peaks) > 1:
        print(f"  growth from {sizes[0]:,} to {sizes[-1]:,} records: {peaks[-1] / peaks[0]:.2f}x (target < 2x)")


def child_import(path: Path, work_dir: Path) -> None:
    catalogue = new_catalogue(work_dir, f"{path.stem}.db")
    report = import_files(catalogue, [path], mode="add")  # generated records share ISBNs and 035s
    importing = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reading = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the reading process, if one ran
    print(json.dumps({"max_rss_mb": importing + reading, "importing_mb": importing, "reading_mb": reading, "added": report.added}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="time each stage of one more import")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of parse / one process / reader")
    parser.add_argument("--child-import", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(args.child_import, args.work_dir)
        return
    if not args.source.exists():
        sys.exit(f"{args.source} not found: extract pymarc's sdist or pass --source")
    parsers = ["pymarc"]
    try:
        import rmarc  # noqa: F401

        parsers.append("rmarc")
    except ImportError:
        print("(rmarc not installed: pip install rmarc to compare it)")
    with tempfile.TemporaryDirectory() as work:
        throughput(args.source, args.records, Path(work), parsers, args.breakdown, args.rounds)
        if not args.skip_memory:
            peak_memory(args.source, [args.small, args.large], Path(work))


if __name__ == "__main__":
    main()
