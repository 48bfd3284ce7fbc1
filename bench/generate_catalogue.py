#!/usr/bin/env python3
"""A reproducible catalogue of any size, derived from the LoC BooksAll file.

Record number ``n`` (0-based) is LoC record ``n % L`` (L = records in the
source, 250,000 for pymarc's file) in "generation" ``g = n // L``.
Generation 0 is the LoC record unchanged, so the first 250,000 records are
exactly what the Zebra anchor indexes.  Later generations get a fresh 001
(``g`` then the original number, same length) and so are new records to the
importer; their words are the original's, which means a term's hit count grows
in proportion to the catalogue, as it does in a real collection.  Identical
output for identical arguments.

    python bench/generate_catalogue.py SOURCE COUNT OUT [--skip K]

``--skip K`` leaves out the first K records (to add a slice to a catalogue
that holds them already).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterator
from pathlib import Path

RECORD_END = b"\x1d"


def raw_records(path: Path) -> Iterator[bytes]:
    """The ISO 2709 records of a file, as bytes, without parsing them."""
    with path.open("rb") as stream:
        buffer = b""
        while block := stream.read(1 << 20):
            buffer += block
            *records, buffer = buffer.split(RECORD_END)
            for record in records:
                yield record + RECORD_END


def with_control_number(raw: bytes, generation: int) -> bytes:
    """``raw`` with its 001 prefixed by the generation (same length, so the
    directory and leader stay valid); records without a leading 001 unchanged."""
    if generation == 0 or raw[24:27] != b"001":
        return raw
    base, length, start = int(raw[12:17]), int(raw[27:31]), int(raw[31:36])
    old = raw[base + start : base + start + length - 1]
    new = (f"g{generation}".encode() + old.strip())[: len(old)].ljust(len(old))
    at = base + start
    return raw[:at] + new + raw[at + len(old) :]


def generate(source: Path, count: int, out: Path, skip: int = 0) -> int:
    """Write records ``skip``..``count-1`` to ``out``; returns how many were written."""
    size = sum(1 for _ in raw_records(source))
    written = 0
    with out.open("wb") as sink:
        for number in range(skip, count):
            generation, position = divmod(number, size)
            if position == 0 or number == skip:
                stream = itertools.islice(raw_records(source), position, None)
            sink.write(with_control_number(next(stream), generation))
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--skip", type=int, default=0)
    args = parser.parse_args()
    print(generate(args.source, args.count, args.out, args.skip))


if __name__ == "__main__":
    main()
