"""Export catalogue records with their holdings as ISO 2709, MARCXML or MARC-in-JSON.

    count = export_records(catalogue, "out.xml", "marcxml", mapping="koha952",
                           since=datetime(2026, 1, 1, tzinfo=timezone.utc))

Records stream out a page at a time, so memory stays flat whatever the
catalogue's size.  Items are written back as holdings fields by the same
mapping that imports them (852 + 876, or 952), so an export re-imports to the
same catalogue.  A deleted record, when asked for, goes out with leader/05 = d.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pymarc

from ils_bridge.services.catalogue import Catalogue, StoredRecord
from marc.holdings import HoldingsMapping, holdings_fields
from marc.reading import FORMATS, MARCXML_NS, Format

_XML_HEAD = f'<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="{MARCXML_NS}">\n'.encode()
_XML_TAIL = b"</collection>\n"


def export_records(
    catalogue: Catalogue,
    destination: str | Path | BinaryIO,
    format: Format = "iso2709",
    *,
    mapping: str | Path | HoldingsMapping = "marc21",
    since: dt.datetime | None = None,
    record_ids: Iterable[int] | None = None,
    include_deleted: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the records changed since ``since`` (all by default), optionally only ``record_ids``; returns the count.

    ``progress`` is called with the number of records written so far, after each record.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    holdings_mapping = mapping if isinstance(mapping, HoldingsMapping) else HoldingsMapping.load(mapping)
    stored = catalogue.iter_records(since=since, record_ids=record_ids, include_deleted=include_deleted)
    records = (marc_record(entry, holdings_mapping, catalogue.currency) for entry in stored)
    if progress:
        records = _reporting(records, progress)
    with _open(destination) as stream:
        return _WRITERS[format](records, stream)


def marc_record(stored: StoredRecord, mapping: HoldingsMapping, currency: str | None) -> pymarc.Record:
    """The stored bibliographic record with its items as holdings fields."""
    record = pymarc.Record(data=stored.marc, force_utf8=True)
    if stored.deleted:
        record.leader[5] = "d"
    for field in holdings_fields(stored.items, mapping, currency):
        record.add_ordered_field(field)
    return record


def _reporting(records: Iterator[pymarc.Record], progress: Callable[[int], None]) -> Iterator[pymarc.Record]:
    for count, record in enumerate(records, start=1):
        yield record
        progress(count)


@contextmanager
def _open(destination: str | Path | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(destination, (str, Path)):
        with open(destination, "wb") as stream:
            yield stream
    else:
        yield destination


def _write_iso2709(records: Iterator[pymarc.Record], stream: BinaryIO) -> int:
    count = 0
    for count, record in enumerate(records, start=1):
        stream.write(record.as_marc())
    return count


def _write_marcxml(records: Iterator[pymarc.Record], stream: BinaryIO) -> int:
    count = 0
    stream.write(_XML_HEAD)
    for count, record in enumerate(records, start=1):
        stream.write(pymarc.record_to_xml(record))
        stream.write(b"\n")
    stream.write(_XML_TAIL)
    return count


def _write_json(records: Iterator[pymarc.Record], stream: BinaryIO) -> int:
    count = 0
    stream.write(b"[")
    for count, record in enumerate(records, start=1):
        stream.write(b",\n" if count > 1 else b"\n")
        stream.write(record.as_json(ensure_ascii=False).encode("utf-8"))
    stream.write(b"\n]\n")
    return count


_WRITERS = {"iso2709": _write_iso2709, "marcxml": _write_marcxml, "json": _write_json}
