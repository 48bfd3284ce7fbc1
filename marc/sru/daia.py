"""Availability as DAIA 1.0 JSON, the format VuFind's stock ``DAIA`` ILS driver reads.

Request: ``GET /<database>/daia?id=<id>[|<id>...]&format=json``.  An id is a
record id or a 001 control number, optionally with a ``prefix:`` (VuFind's
``daiaIdPrefix``, e.g. ``ppn:``) that is stripped.  Per copy, DAIA
``available``/``unavailable`` services say what a patron can do now:
``loan`` and ``presentation`` (use in the library); a checked-out copy's
``unavailable`` loan carries ``expected`` (the due date).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from marc.search.availability import CopyState, CopyStatus, HoldingsSource
from marc.search.index import SearchIndex

JSON = "application/json; charset=utf-8"
MAX_IDS = 100


def _services(copy: CopyStatus) -> tuple[list[dict], list[dict]]:
    loan, presentation = {"service": "loan"}, {"service": "presentation"}
    if copy.state is CopyState.ON_SHELF:
        return [loan, presentation], []
    if copy.state is CopyState.IN_LIBRARY_ONLY:
        return [presentation], [loan]
    if copy.state is CopyState.CHECKED_OUT:
        expected = {"expected": copy.due.date().isoformat()} if copy.due else {}
        return [], [{**loan, **expected}, {**presentation, **expected}]
    if copy.state is CopyState.ON_HOLD_SHELF:
        held = {"limitation": [{"content": "on hold shelf"}]}
        return [], [{**loan, **held}, {**presentation, **held}]
    return [], [loan, presentation]


def _item(copy: CopyStatus) -> dict:
    available, unavailable = _services(copy)
    item: dict = {"id": copy.barcode, "available": available, "unavailable": unavailable}
    if copy.call_number:
        item["label"] = copy.call_number
    if copy.branch:
        item["department"] = {"id": copy.branch, "content": copy.branch}
    if copy.location:
        item["storage"] = {"id": copy.location, "content": copy.location}
    if copy.note:
        item["message"] = [{"content": copy.note, "lang": "en"}]
    return {k: v for k, v in item.items() if v != []}


def daia_document(params: Mapping[str, str], index: SearchIndex, holdings: HoldingsSource, institution: str) -> tuple[int, bytes]:
    """(HTTP status, body) for one DAIA request."""
    if params.get("format", "json") != "json":
        return 400, _error("only format=json is supported")
    raw_ids = [i for i in params.get("id", "").split("|") if i]
    if not raw_ids:
        return 400, _error("missing id")
    if len(raw_ids) > MAX_IDS:
        return 400, _error(f"at most {MAX_IDS} ids per request")
    bare = {raw: raw.rsplit(":", 1)[-1] for raw in raw_ids}
    record_ids = index.resolve_ids(list(bare.values()))
    copies = holdings.copies(list(record_ids.values()))
    documents = []
    for raw in raw_ids:
        doc: dict = {"id": raw}
        rid = record_ids.get(bare[raw])
        if rid is None:
            doc["message"] = [{"content": "record not found", "lang": "en", "errno": 404}]
        else:
            doc["item"] = [_item(c) for c in copies.get(rid, [])]
        documents.append(doc)
    body = {
        "version": "0.5",
        "schema": "http://ws.gbv.de/daia/",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "institution": {"content": institution},
        "document": documents,
    }
    return 200, json.dumps(body, ensure_ascii=False).encode()


def _error(text: str) -> bytes:
    return json.dumps({"error": text}).encode()
