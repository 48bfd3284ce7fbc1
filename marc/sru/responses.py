"""SRU response documents (lxml), for versions 1.2 (zing namespace) and 2.0 (OASIS)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from marc.search.index import ScanEntry
from marc.sru.diagnostics import SruDiagnostic


@dataclass(frozen=True)
class Namespaces:
    response: str
    diagnostic: str
    scan: str
    explain: str


SRU_1 = Namespaces(
    "http://www.loc.gov/zing/srw/",
    "http://www.loc.gov/zing/srw/diagnostic/",
    "http://www.loc.gov/zing/srw/",
    "http://explain.z3950.org/dtd/2.0/",
)
SRU_2 = Namespaces(
    "http://docs.oasis-open.org/ns/search-ws/sruResponse",
    "http://docs.oasis-open.org/ns/search-ws/diagnostic",
    "http://docs.oasis-open.org/ns/search-ws/scan",
    "http://explain.z3950.org/dtd/2.1/",
)
PREFIX = {SRU_1.response: "zs", SRU_2.response: "sruResponse", SRU_2.scan: "scan"}


def namespaces(version: str) -> Namespaces:
    return SRU_2 if version.startswith("2") else SRU_1


@dataclass(frozen=True)
class RecordOut:
    schema: str
    data: str  # serialised XML of the record
    position: int


class Document:
    """A response root in one namespace, with helpers for its children."""

    def __init__(self, ns: str, root: str, version: str) -> None:
        self.ns = ns
        self.root = etree.Element(f"{{{ns}}}{root}", nsmap={PREFIX.get(ns, "zs"): ns})
        self.add(self.root, "version", version)

    def add(self, parent: etree._Element, name: str, text: object | None = None) -> etree._Element:
        el = etree.SubElement(parent, f"{{{self.ns}}}{name}")
        if text is not None:
            el.text = str(text)
        return el

    def bytes(self) -> bytes:
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8")


def add_diagnostics(doc: Document, ns: Namespaces, diagnostics: Sequence[SruDiagnostic]) -> None:
    if not diagnostics:
        return
    box = doc.add(doc.root, "diagnostics")
    for diag in diagnostics:
        el = etree.SubElement(box, f"{{{ns.diagnostic}}}diagnostic", nsmap={"diag": ns.diagnostic})
        etree.SubElement(el, f"{{{ns.diagnostic}}}uri").text = diag.uri
        if diag.details:
            etree.SubElement(el, f"{{{ns.diagnostic}}}details").text = diag.details
        etree.SubElement(el, f"{{{ns.diagnostic}}}message").text = diag.message


def search_retrieve(
    version: str,
    count: int | None,
    records: Iterable[RecordOut],
    escaping: str,
    next_position: int | None,
    diagnostics: Sequence[SruDiagnostic] = (),
) -> bytes:
    """The response document.  With ``escaping == "xml"`` each record's XML (made
    by our own serialisers, so well-formed) is spliced into the serialised
    envelope instead of being parsed back into lxml: parsing and re-serialising
    ten records cost more than the search."""
    ns = namespaces(version)
    doc = Document(ns.response, "searchRetrieveResponse", version)
    doc.add(doc.root, "numberOfRecords", count if count is not None else 0)
    records = list(records)
    spliced: list[bytes] = []
    if records:
        box = doc.add(doc.root, "records")
        for rec in records:
            el = doc.add(box, "record")
            doc.add(el, "recordSchema", rec.schema)
            doc.add(el, "recordXMLEscaping" if ns is SRU_2 else "recordPacking", escaping)
            data = doc.add(el, "recordData")
            if escaping == "string":
                data.text = rec.data
            else:
                data.text = _slot(len(spliced))
                spliced.append(rec.data.encode("utf-8"))
            doc.add(el, "recordPosition", rec.position)
    if next_position is not None:
        doc.add(doc.root, "nextRecordPosition", next_position)
    add_diagnostics(doc, ns, diagnostics)
    body = doc.bytes()
    for i, record in enumerate(spliced):
        body = body.replace(_slot(i).encode("ascii"), record, 1)
    return body


def _slot(i: int) -> str:
    """A stand-in text the envelope cannot otherwise contain (it holds no user text)."""
    return f"@@record-slot-{i}@@"


def scan(version: str, entries: Sequence[ScanEntry], diagnostics: Sequence[SruDiagnostic] = ()) -> bytes:
    ns = namespaces(version)
    doc = Document(ns.scan, "scanResponse", version)
    if entries:
        terms = doc.add(doc.root, "terms")
        for entry in entries:
            term = doc.add(terms, "term")
            doc.add(term, "value", entry.term)
            doc.add(term, "numberOfRecords", entry.count)
    add_diagnostics(doc, ns, diagnostics)
    return doc.bytes()


def explain(version: str, explain_record: etree._Element, diagnostics: Sequence[SruDiagnostic] = ()) -> bytes:
    ns = namespaces(version)
    doc = Document(ns.response, "explainResponse", version)
    record = doc.add(doc.root, "record")
    doc.add(record, "recordSchema", ns.explain)
    doc.add(record, "recordXMLEscaping" if ns is SRU_2 else "recordPacking", "xml")
    doc.add(record, "recordData").append(explain_record)
    add_diagnostics(doc, ns, diagnostics)
    return doc.bytes()


def diagnostic_only(version: str, diagnostic: SruDiagnostic, operation: str = "searchRetrieve") -> bytes:
    """A fatal diagnostic in the response type of the operation asked for."""
    if operation == "scan":
        return scan(version, [], [diagnostic])
    if operation == "explain":
        ns = namespaces(version)
        doc = Document(ns.response, "explainResponse", version)
        add_diagnostics(doc, ns, [diagnostic])
        return doc.bytes()
    return search_retrieve(version, 0, [], "xml", None, [diagnostic])
