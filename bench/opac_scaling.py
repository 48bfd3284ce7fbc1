#!/usr/bin/env python3
"""How our OPAC latency grows with the catalogue: 250k then 1M records.

Grows one SQLite catalogue in steps (``--sizes``), importing each slice of
``generate_catalogue.py``'s records through the importer (which keeps the
search index current), and after each step points the Zebra anchor's
bench.py at our Z39.50 target and SRU server with one fixed query file
(drawn from the first 250,000 records, as the anchor does).  ``--zebra``
also runs the anchor's Zebra on the same records at each size.

Resumable: a step whose records are already stored is not imported again,
so after an interruption run the same command.  Progress goes to stdout with
timestamps, figures to ``WORK/results-<size>.txt`` and a table at the end.

    nice python bench/opac_scaling.py --work /tmp/opac-scale > /tmp/opac-scale.log 2>&1 &
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import sqlalchemy

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from generate_catalogue import generate  # noqa: E402
from opac_vs_zebra import ANCHOR, anchor, loc_file, metrics, run_zebra  # noqa: E402

from ils_bridge.services.catalogue import Catalogue  # noqa: E402
from ils_bridge.storage.schema import bib_records, libraries, metadata  # noqa: E402
from marc.importer import Progress, import_files  # noqa: E402
from marc.search import open_index  # noqa: E402
from marc.search.background import BackgroundServer  # noqa: E402
from marc.sru.server import SruServer  # noqa: E402
from marc.z3950.server import Z3950Server  # noqa: E402

LIBRARY_ID = 1
QUERY_POOL = 250_000  # queries come from the records Zebra's anchor indexes


def log(message: str) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{dt.datetime.now():%H:%M:%S} [load {load}] {message}", flush=True)


def open_catalogue(db: Path) -> sqlalchemy.Engine:
    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.scalar(sqlalchemy.select(libraries.c.id).where(libraries.c.id == LIBRARY_ID)) is None:
            conn.execute(libraries.insert().values(id=LIBRARY_ID, code="bench", name="Bench", currency="USD", timezone="UTC"))
    open_index(engine)  # creates the full-text tables before the importer's hook writes to them
    return engine


def stored(engine: sqlalchemy.Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sqlalchemy.select(sqlalchemy.func.count()).select_from(bib_records))


def grow(engine: sqlalchemy.Engine, work: Path, source: Path, size: int) -> float | None:
    """Import records up to ``size``; returns records/s, or None when nothing was missing."""
    have = stored(engine)
    if have >= size:
        return None
    part = work / f"part-{have}-{size}.mrc"
    log(f"generating records {have}..{size - 1} into {part.name}")
    generate(source, size, part, skip=have)
    last = [0.0]

    def progress(p: Progress) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            log(f"  import: {p.records} read, {p.added} added, {p.failed} failed, {p.records_per_second:.0f}/s")

    log(f"importing {size - have} records")
    started = time.perf_counter()
    report = import_files(Catalogue(engine, LIBRARY_ID), [part], mode="add", progress=progress,
                          checkpoint=work / "import.checkpoint", batch_size=2000)
    elapsed = time.perf_counter() - started
    log(f"imported {report.records} records ({report.failed} failed) in {elapsed:.0f} s")
    part.unlink()
    return report.records / elapsed


def measure(engine: sqlalchemy.Engine, queries: Path) -> dict[str, str]:
    with engine.connect() as conn:  # fold the import's write-ahead log into the file first
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    index = open_index(engine)
    out: dict[str, str] = {}
    with BackgroundServer(Z3950Server(engine, port=0, index=index)) as z, BackgroundServer(SruServer(engine, port=0, index=index)) as s:
        out.update(metrics(anchor("z3950", str(queries), "127.0.0.1", str(z.port), "Default")))
        out.update(metrics(anchor("sru", str(queries), f"http://127.0.0.1:{s.port}/opac")))
    return out


def table(sizes: list[int], ours: dict[int, dict[str, str]], zebra: dict[int, dict[str, str]]) -> None:
    keys = ["z3950_search_present_p50_ms", "z3950_search_present_p99_ms", "z3950_search_present_per_s",
            "z3950_search_only_p50_ms", "z3950_present1_p50_ms", "z3950_search_present_median_hits",
            "sru_keepalive_p50_ms", "sru_keepalive_p99_ms", "sru_keepalive_per_s"]
    head = [f"ours {n // 1000}k" for n in sizes] + [f"zebra {n // 1000}k" for n in sizes if zebra.get(n)]
    print(f"{'metric':36} " + " ".join(f"{h:>12}" for h in head))
    for key in keys:
        cells = [ours[n].get(key, "-") for n in sizes] + [zebra[n].get(key, "-") for n in sizes if zebra.get(n)]
        print(f"{key:36} " + " ".join(f"{c:>12}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/opac-scale"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--zebra", action="store_true", help="also index and measure Zebra at each size")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    source = loc_file(args.work)
    queries = args.work / "queries.json"
    if not queries.exists():
        pool = args.work / "query-pool.mrc"
        anchor("slice", str(source), str(QUERY_POOL), str(pool))
        anchor("queries", str(pool), str(args.queries), str(queries))
        pool.unlink()
    engine = open_catalogue(args.work / "catalogue.db")
    ours, zebra = {}, {}
    for size in sorted(args.sizes):
        rate = grow(engine, args.work, source, size)
        log(f"{stored(engine)} records stored; measuring our servers")
        ours[size] = measure(engine, queries) | ({"import_records_per_s": f"{rate:.0f}"} if rate else {})
        if args.zebra and (ANCHOR / "run.sh").exists():
            zebra_source = args.work / "zebra-source.mrc"
            generate(source, size, zebra_source)
            log(f"running Zebra on {size} records")
            zebra[size] = run_zebra(zebra_source, size, args.queries)
            zebra_source.unlink()
        lines = [f"{k} {v}" for k, v in ours[size].items()] + [f"zebra_{k} {v}" for k, v in zebra.get(size, {}).items()]
        (args.work / f"results-{size}.txt").write_text("\n".join(lines) + "\n")
        log(f"measured {size}: " + ", ".join(f"{k}={ours[size].get(k)}" for k in ("z3950_search_present_p50_ms", "z3950_search_present_p99_ms", "sru_keepalive_p50_ms")))
    engine.dispose()
    table(sorted(args.sizes), ours, zebra)


if __name__ == "__main__":
    main()
