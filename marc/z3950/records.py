"""Database records as Z39.50 retrieval records (EXTERNALs), per record syntax."""

from __future__ import annotations

from collections.abc import Sequence

from marc.search.availability import CopyState, CopyStatus
from marc.search.presentation import (
    marcxml_from_iso2709,
    parse_iso2709,
    status_text,
    sutrs,
)
from marc.z3950 import codec, oids

SUPPORTED_SYNTAXES = (oids.USMARC, oids.MARCXML, oids.XML_TEXT, oids.SUTRS, oids.OPAC)
DEFAULT_SYNTAX = oids.USMARC
ELEMENT_SETS = {"F", "B"}  # full and brief: MARC records are always sent whole


def _octets(syntax: str, data: bytes) -> dict:
    return {"direct-reference": syntax, "encoding": ("octet-aligned", data)}


def _asn1(syntax: str, type_name: str, value: object) -> dict:
    return {"direct-reference": syntax, "encoding": ("single-ASN1-type", codec.encode(type_name, value))}


def circulation(copy: CopyStatus) -> dict:
    circ: dict = {
        "availableNow": copy.available_now,
        "itemId": copy.barcode,
        "renewable": copy.state is CopyState.CHECKED_OUT,
        "onHold": copy.state is CopyState.ON_HOLD_SHELF,
    }
    if copy.due is not None:
        circ["availablityDate"] = copy.due.date().isoformat()
    if copy.state is CopyState.IN_LIBRARY_ONLY:
        circ["restrictions"] = "In library use only"
    if copy.volume:
        circ["enumAndChron"] = copy.volume
    return circ


def holdings_and_circ(copy: CopyStatus) -> dict:
    data = {
        "localLocation": copy.branch,
        "shelvingLocation": copy.location,
        "callNumber": copy.call_number,
        "copyNumber": copy.copy_number,
        "enumAndChron": copy.volume,
        "publicNote": status_text(copy),
        "circulationData": [circulation(copy)],
    }
    return {k: v for k, v in data.items() if v is not None}


def retrieval_record(syntax: str, marc: bytes, copies: Sequence[CopyStatus]) -> dict:
    """The EXTERNAL for one record in ``syntax`` (one of SUPPORTED_SYNTAXES)."""
    if syntax == oids.USMARC:
        return _octets(syntax, marc)
    if syntax in (oids.MARCXML, oids.XML_TEXT):
        return _octets(syntax, marcxml_from_iso2709(marc).encode("utf-8"))
    if syntax == oids.SUTRS:
        return _asn1(syntax, "SutrsRecord", sutrs(parse_iso2709(marc)))
    if syntax == oids.OPAC:
        opac = {
            "bibliographicRecord": _octets(oids.USMARC, marc),
            "holdingsData": [("holdingsAndCirc", holdings_and_circ(c)) for c in copies],
        }
        return _asn1(syntax, "OPACRecord", opac)
    raise ValueError(f"unsupported record syntax {syntax}")
