#!/usr/bin/env python3
"""Our SRU server and Z39.50 target against Index Data's Zebra, in one run.

Zebra is measured by the shared anchor (../shared/zebra-anchor/run.sh: it
indexes the first N records of the pymarc LoC file, starts zebrasrv and runs
its bench.py).  We then load the same N records into ``bib_records`` (a
SQLite file), build our index, start our servers and point the same
bench.py, with the same seeded query file, at them.  Prints our figures and
the ratio ours/Zebra for each (lower is better for times, higher for rates).

    python bench/opac_vs_zebra.py --records 50000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pymarc
import sqlalchemy

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import marc.search.tables  # noqa: F401  (registers search_docs)
from ils_bridge.storage.schema import bib_records, libraries, metadata
from marc.search import open_index
from marc.search.background import BackgroundServer
from marc.sru.server import SruServer
from marc.z3950.server import Z3950Server

ANCHOR = REPO.parent / "shared" / "zebra-anchor"
SDIST = Path("/tmp/pymarc-sdist/pymarc-5.4.0.tar.gz")
LOC_MEMBER = "pymarc-5.4.0/BooksAll.2016.part01.utf8"


def loc_file(work: Path) -> Path:
    """The LoC BooksAll file, from pymarc's sdist (as the anchor uses)."""
    cached = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zebra-anchor" / LOC_MEMBER
    if cached.exists():
        return cached
    with tarfile.open(SDIST) as tar:
        tar.extract(LOC_MEMBER, work, filter="data")
    return work / LOC_MEMBER


def metrics(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2:
            out[parts[0]] = parts[1].split()[0]
    return out


def anchor(*args: str) -> str:
    return subprocess.run([sys.executable, str(ANCHOR / "bench.py"), *args], check=True, capture_output=True, text=True).stdout


def run_zebra(marc: Path, n: int, nq: int) -> dict[str, str]:
    env = {**os.environ, "MARC": str(marc), "NQ": str(nq)}
    result = subprocess.run([str(ANCHOR / "run.sh"), str(n)], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        print(f"# zebra run failed: {result.stderr.strip()[-500:]}")
        return {}
    return metrics(result.stdout)


def load_records(engine: sqlalchemy.Engine, mrc: Path) -> int:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(libraries.insert().values(id=1, code="bench", name="Bench", currency="USD", timezone="UTC"))
        batch = []
        with mrc.open("rb") as handle:
            for record in pymarc.MARCReader(handle, to_unicode=True, force_utf8=True):
                if record is None:
                    continue
                control = record["001"].data.strip() if record["001"] else None
                batch.append({"library_id": 1, "control_number": control, "title": record.title or "",
                              "author": record.author, "marc": record.as_marc(), "created_at": now, "updated_at": now})
                if len(batch) == 5000:
                    conn.execute(bib_records.insert(), batch)
                    batch = []
        if batch:
            conn.execute(bib_records.insert(), batch)
    with engine.connect() as conn:
        return conn.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(bib_records)).scalar_one()


def run_ours(work: Path, mrc: Path, queries: Path) -> dict[str, str]:
    db = work / "opac.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    metadata.create_all(engine)
    t0 = time.perf_counter()
    n = load_records(engine, mrc)
    t1 = time.perf_counter()
    size_before = db.stat().st_size
    index = open_index(engine)
    index.rebuild()
    t2 = time.perf_counter()
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM")
    index_bytes = db.stat().st_size - size_before
    out = {
        "records": str(n),
        "load_s": f"{t1 - t0:.2f}",
        "index_total_s": f"{t2 - t1:.2f}",
        "index_records_per_s": f"{n / (t2 - t1):.0f}",
        "index_bytes_per_record": f"{max(index_bytes, 0) / n:.0f}",
    }
    with BackgroundServer(Z3950Server(engine, port=0, index=index)) as z, BackgroundServer(SruServer(engine, port=0, index=index)) as s:
        out.update(metrics(anchor("z3950", str(queries), "127.0.0.1", str(z.port), "Default")))
        out.update(metrics(anchor("sru", str(queries), f"http://127.0.0.1:{s.port}/opac")))
        out.update(metrics(anchor("sru", str(queries), f"http://127.0.0.1:{s.port}/opac", "--newconn")))
    engine.dispose()
    return out


def report(ours: dict[str, str], zebra: dict[str, str]) -> None:
    print(f"{'metric':40} {'ours':>12} {'zebra':>12} {'ours/zebra':>11}")
    for key, value in ours.items():
        other = zebra.get(key)
        ratio = ""
        try:
            if other is not None and float(other) != 0:
                ratio = f"{float(value) / float(other):.2f}"
        except ValueError:
            pass
        print(f"{key:40} {value:>12} {other or '-':>12} {ratio:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--no-zebra", action="store_true", help="measure only our servers")
    args = parser.parse_args()
    if not (ANCHOR / "bench.py").exists():
        sys.exit(f"missing {ANCHOR}: the shared Zebra anchor sits beside the repo")
    with tempfile.TemporaryDirectory(prefix="opac-bench-") as tmp:
        work = Path(tmp)
        source = loc_file(work)
        mrc, queries = work / "recs.mrc", work / "queries.json"
        anchor("slice", str(source), str(args.records), str(mrc))
        anchor("queries", str(mrc), str(args.queries), str(queries))  # the same seed run.sh uses
        zebra = {} if args.no_zebra else run_zebra(source, args.records, args.queries)
        ours = run_ours(work, mrc, queries)
    print(f"# {args.records} records, {args.queries} queries; ours: SQLite FTS5, asyncio servers; zebra: {zebra.get('zebra_version', 'not run')}")
    report(ours, zebra)


if __name__ == "__main__":
    main()
