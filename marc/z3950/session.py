"""One Z39.50 association: its negotiated state, named result sets, and one
handler per request APDU.  ``Session.handle(name, request)`` returns the
response APDU (name, value) and whether to close the connection after it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from marc.search.availability import HoldingsSource
from marc.search.index import SearchIndex
from marc.search.query import Index, QueryError
from marc.search.result_set import ResultSet, fetch_records
from marc.z3950 import bib1, codec, oids, records
from marc.z3950.bib1 import Bib1Error

IMPLEMENTATION_ID = "ils-bridge"
IMPLEMENTATION_NAME = "ils-bridge Z39.50 target"
IMPLEMENTATION_VERSION = "0.1"
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
MAX_RESULT_SETS = 32
MAX_PRESENT = 1000
MAX_SCAN_TERMS = 100
SUPPORTED_OPTIONS = ("search", "present", "delSet", "scan", "sort", "namedResultSets", "negotiation")
OPTION_BITS = {"search": 0, "present": 1, "delSet": 2, "scan": 7, "sort": 8, "namedResultSets": 14, "negotiation": 17}
SORT_USES = {4: Index.TITLE, 30: Index.YEAR, 31: Index.YEAR}

Authenticator = Callable[[str | None, str | None, str | None], bool]
Response = tuple[tuple[str, dict], bool]


def bits(indexes: Sequence[int]) -> tuple[bytes, int]:
    """A BER BIT STRING value (asn1tools form) with these bits set."""
    size = max(indexes) + 1 if indexes else 1
    raw = bytearray((size + 7) // 8)
    for i in indexes:
        raw[i // 8] |= 0x80 >> (i % 8)
    return bytes(raw), size


def bit_set(value: tuple[bytes, int], index: int) -> bool:
    raw, size = value
    return index < size and bool(raw[index // 8] & (0x80 >> (index % 8)))


def diag(condition: int, addinfo: str = "") -> dict:
    return {"diagnosticSetId": oids.BIB1_DIAGNOSTICS, "condition": condition, "addinfo": ("v3Addinfo", addinfo)}


def close_apdu(reason: str, text: str = "") -> tuple[str, dict]:
    reasons = {"finished": 0, "shutdown": 1, "systemProblem": 2, "protocolError": 6, "lackOfActivity": 7, "securityViolation": 5}
    value: dict = {"closeReason": reasons[reason]}
    if text:
        value["diagnosticInformation"] = text
    return ("close", value)


@dataclass
class Session:
    index: SearchIndex
    holdings: HoldingsSource
    databases: tuple[str, ...]  # names accepted (case-insensitive); the first is reported in records
    authenticate: Authenticator | None = None
    initialised: bool = False
    preferred_message_size: int = 1024 * 1024
    result_sets: dict[str, ResultSet] = field(default_factory=dict)  # oldest first
    dropped_sets: set[str] = field(default_factory=set)
    accepted_databases: frozenset[str] = field(init=False)  # the names, lower-cased

    def __post_init__(self) -> None:
        self.accepted_databases = frozenset(d.lower() for d in self.databases)

    def handle(self, name: str, request: dict) -> Response:
        if name == "close":
            return close_apdu("finished"), True
        if name != "initRequest" and not self.initialised:
            return close_apdu("protocolError", f"{name} before initRequest"), True
        handler = getattr(self, "_" + name)
        response: Response = handler(request)
        ref = request.get("referenceId")
        if ref is not None:
            response[0][1]["referenceId"] = ref
        return response

    # -- init ----------------------------------------------------------------
    def _initRequest(self, req: dict) -> Response:
        if self.initialised:
            return close_apdu("protocolError", "second initRequest"), True
        accepted = self._check_credentials(req.get("idAuthentication"))
        offered = req["options"]
        agreed = [OPTION_BITS[o] for o in SUPPORTED_OPTIONS if bit_set(offered, OPTION_BITS[o])]
        versions = [v for v in range(3) if bit_set(req["protocolVersion"], v)] or [0]
        self.preferred_message_size = max(1024, min(req["preferredMessageSize"], MAX_MESSAGE_SIZE))
        response = {
            "protocolVersion": bits(versions),
            "options": bits(agreed),
            "preferredMessageSize": self.preferred_message_size,
            "exceptionalRecordSize": max(self.preferred_message_size, min(req["exceptionalRecordSize"], MAX_MESSAGE_SIZE)),
            "result": accepted,
            "implementationId": IMPLEMENTATION_ID,
            "implementationName": IMPLEMENTATION_NAME,
            "implementationVersion": IMPLEMENTATION_VERSION,
        }
        negotiation = charset_response(req.get("otherInfo", []))
        if negotiation is not None and bit_set(offered, OPTION_BITS["negotiation"]):
            response["otherInfo"] = [negotiation]
        elif OPTION_BITS["negotiation"] in agreed:
            agreed.remove(OPTION_BITS["negotiation"])
            response["options"] = bits(agreed)
        self.initialised = accepted
        return ("initResponse", response), not accepted

    def _check_credentials(self, auth: tuple[str, object] | None) -> bool:
        if self.authenticate is None:
            return True
        user = password = group = None
        if auth is not None:
            kind, value = auth
            if kind == "open":
                user, _, password = str(value).partition("/")
            elif kind == "idPass":
                assert isinstance(value, dict)
                user, password, group = value.get("userId"), value.get("password"), value.get("groupId")
        return self.authenticate(user, password, group)

    # -- search --------------------------------------------------------------
    def _searchRequest(self, req: dict) -> Response:
        name = req["resultSetName"] or "default"
        try:
            self._check_databases(req["databaseNames"])
            if name in self.result_sets and not req["replaceIndicator"]:
                raise Bib1Error(bib1.RESULT_SET_EXISTS_NO_REPLACE, name)
            hits = self._run_query(req["query"])
        except Bib1Error as error:
            self.result_sets.pop(name, None)
            return self._search_failed(error), False
        self._keep(name, hits)
        response: dict = {
            "resultCount": len(hits),
            "numberOfRecordsReturned": 0,
            "nextResultSetPosition": 1,
            "searchStatus": True,
        }
        piggyback = self._piggyback_count(req, len(hits))
        if piggyback:
            syntax = req.get("preferredRecordSyntax", records.DEFAULT_SYNTAX)
            esn = req.get("smallSetElementSetNames" if len(hits) <= req["smallSetUpperBound"] else "mediumSetElementSetNames")
            returned, status, recs = self._records(hits, 1, piggyback, syntax, esn)
            response.update(numberOfRecordsReturned=returned, nextResultSetPosition=1 + returned, presentStatus=status, records=recs)
        return ("searchResponse", response), False

    @staticmethod
    def _piggyback_count(req: dict, count: int) -> int:
        if count <= req["smallSetUpperBound"]:
            return count
        if count < req["largeSetLowerBound"]:
            return min(count, req["mediumSetPresentNumber"])
        return 0

    def _search_failed(self, error: Bib1Error) -> tuple[str, dict]:
        return (
            "searchResponse",
            {
                "resultCount": 0,
                "numberOfRecordsReturned": 0,
                "nextResultSetPosition": 0,
                "searchStatus": False,
                "resultSetStatus": 3,
                "records": ("nonSurrogateDiagnostic", diag(error.condition, error.addinfo)),
            },
        )

    def _check_databases(self, names: list[str]) -> None:
        unknown = [n for n in names if n.lower() not in self.accepted_databases]
        if unknown:
            raise Bib1Error(bib1.DATABASE_DOES_NOT_EXIST, unknown[0])
        if len({n.lower() for n in names}) > 1:
            raise Bib1Error(bib1.TOO_MANY_DATABASES, "one database at a time")

    def _run_query(self, query: tuple[str, object]) -> ResultSet:
        kind, value = query
        if kind not in ("type-1", "type-101"):
            raise Bib1Error(bib1.QUERY_TYPE_UNSUPPORTED, kind)
        tree = bib1.rpn_to_query(value)  # type: ignore[arg-type]
        try:
            return ResultSet.search(self.index, tree, lambda name: self._result_set(name).ids())
        except QueryError as error:
            raise Bib1Error.from_query_error(error) from None

    def _keep(self, name: str, hits: ResultSet) -> None:
        """Store a result set; past MAX_RESULT_SETS the oldest is dropped (origins
        such as yaz-client name every search afresh)."""
        self.result_sets.pop(name, None)
        self.result_sets[name] = hits
        while len(self.result_sets) > MAX_RESULT_SETS:
            dropped = next(iter(self.result_sets))
            del self.result_sets[dropped]
            self.dropped_sets.add(dropped)
        self.dropped_sets.discard(name)

    def _result_set(self, name: str) -> ResultSet:
        if name in self.result_sets:
            return self.result_sets[name]
        if name in self.dropped_sets:
            raise Bib1Error(bib1.RESULT_SET_DELETED_BY_TARGET, name)
        raise Bib1Error(bib1.RESULT_SET_DOES_NOT_EXIST, name)

    # -- present -------------------------------------------------------------
    def _presentRequest(self, req: dict) -> Response:
        name = req["resultSetId"]
        composition = req.get("recordComposition")
        esn = composition[1] if composition and composition[0] == "simple" else None
        try:
            hits = self._result_set(name)
            if composition and composition[0] != "simple":
                raise Bib1Error(bib1.ELEMENT_SET_NAME_NOT_VALID, "composition specifications")
            start, count = req["resultSetStartPoint"], req["numberOfRecordsRequested"]
            if start < 1 or start > len(hits) or count < 0:
                raise Bib1Error(bib1.PRESENT_OUT_OF_RANGE, f"start {start}, count {count}, set size {len(hits)}")
            returned, status, recs = self._records(
                hits, start, count, req.get("preferredRecordSyntax", records.DEFAULT_SYNTAX), esn
            )
        except Bib1Error as error:
            return (
                "presentResponse",
                {
                    "numberOfRecordsReturned": 0,
                    "nextResultSetPosition": 0,
                    "presentStatus": 5,
                    "records": ("nonSurrogateDiagnostic", diag(error.condition, error.addinfo)),
                },
            ), False
        return (
            "presentResponse",
            {"numberOfRecordsReturned": returned, "nextResultSetPosition": start + returned, "presentStatus": status, "records": recs},
        ), False

    def _records(self, hits: ResultSet, start: int, count: int, syntax: str, esn: tuple | None) -> tuple[int, int, tuple]:
        """(number returned, presentStatus, Records) for hits ``start``..``start+count-1``."""
        if syntax not in records.SUPPORTED_SYNTAXES:
            raise Bib1Error(bib1.RECORD_SYNTAX_UNSUPPORTED, syntax)
        if esn is not None and (esn[0] != "genericElementSetName" or esn[1].upper() not in records.ELEMENT_SETS):
            raise Bib1Error(bib1.ELEMENT_SET_NAME_NOT_VALID, str(esn[1]))
        wanted = hits.page(start, min(count, MAX_PRESENT))
        raw = fetch_records(self.index, wanted)
        copies = self.holdings.copies(wanted) if syntax == oids.OPAC else {}
        out, size, status = [], 0, 0
        for rid in wanted:
            if rid not in raw:
                out.append({"record": ("surrogateDiagnostic", ("defaultFormat", diag(bib1.SYSTEM_ERROR_PRESENTING, f"record {rid} is gone")))})
                continue
            external = records.retrieval_record(syntax, raw[rid], copies.get(rid, []))
            size += len(raw[rid])
            if out and size > self.preferred_message_size:
                status = 2  # partial-2: message size too small for all records
                break
            out.append({"name": self.databases[0], "record": ("retrievalRecord", external)})
        if len(out) < count and status == 0:
            status = 4 if count > MAX_PRESENT else 0  # partial-4: the target's present limit
        return len(out), status, ("responseRecords", out)

    # -- scan ----------------------------------------------------------------
    def _scanRequest(self, req: dict) -> Response:
        try:
            self._check_databases(req["databaseNames"])
            if req.get("stepSize", 0) != 0:
                raise Bib1Error(bib1.ONLY_ZERO_STEP_SIZE, str(req["stepSize"]))
            start = req["termListAndStartPoint"]
            attrs = bib1.read_attributes(start["attributes"], req.get("attributeSet", oids.BIB1_ATTRIBUTES))
            if attrs.use is Index.YEAR:
                raise Bib1Error(bib1.UNSUPPORTED_ATTRIBUTE_COMBINATION, "years cannot be scanned")
            term = bib1.term_text(start["term"])
            count = max(0, min(req["numberOfTermsRequested"], MAX_SCAN_TERMS))
            position = req.get("preferredPositionInResponse", 1)
            if position < 0 or position > count + 1:
                raise Bib1Error(bib1.MALFORMED_QUERY, f"preferred position {position}")
            entries = self.index.scan(attrs.use, term, count, max(position, 1))
        except Bib1Error as error:
            return (
                "scanResponse",
                {
                    "scanStatus": 6,
                    "numberOfEntriesReturned": 0,
                    "entries": {"nonsurrogateDiagnostics": [("defaultFormat", diag(error.condition, error.addinfo))]},
                },
            ), False
        before = sum(1 for e in entries if e.term < term.lower())
        terms = [("termInfo", {"term": ("general", e.term.encode("utf-8")), "globalOccurrences": e.count}) for e in entries]
        return (
            "scanResponse",
            {
                "stepSize": 0,
                "scanStatus": 0 if len(terms) == count else 5,  # partial-5: ran off the end of the index
                "numberOfEntriesReturned": len(terms),
                "positionOfTerm": before + 1,
                "entries": {"entries": terms},
            },
        ), False

    # -- sort ----------------------------------------------------------------
    def _sortRequest(self, req: dict) -> Response:
        try:
            names = req["inputResultSetNames"]
            if len(names) != 1:
                raise Bib1Error(bib1.CANNOT_SORT, "exactly one input result set")
            ids = self._result_set(names[0]).ids()
            for spec in reversed(req["sortSequence"]):  # stable sorts: last key first
                ids = self.index.sorted_ids(ids, self._sort_index(spec), spec["sortRelation"] == 1)
        except (Bib1Error, QueryError) as error:
            err = error if isinstance(error, Bib1Error) else Bib1Error(bib1.CANNOT_SORT, str(error))
            return ("sortResponse", {"sortStatus": 2, "diagnostics": [("defaultFormat", diag(err.condition, err.addinfo))]}), False
        self._keep(req["sortedResultSetName"], ResultSet.of_ids(self.index, ids))
        return ("sortResponse", {"sortStatus": 0, "resultSetStatus": 3, "resultCount": len(ids)}), False

    @staticmethod
    def _sort_index(spec: dict) -> Index:
        kind, key = spec["sortElement"]
        if kind == "generic" and key[0] == "sortAttributes":
            for element in key[1]["list"]:
                if element["attributeType"] == bib1.USE:
                    use = bib1.attribute_value(element)
                    if use in SORT_USES:
                        return SORT_USES[use]  # type: ignore[index]
                    raise Bib1Error(bib1.CANNOT_SORT, f"use attribute {use}")
        if spec["sortRelation"] not in (0, 1):
            raise Bib1Error(bib1.CANNOT_SORT, "only ascending or descending")
        raise Bib1Error(bib1.CANNOT_SORT, "sort keys must be Bib-1 use attributes 4 (title) or 30/31 (date)")

    # -- delete result sets -------------------------------------------------------
    def _deleteResultSetRequest(self, req: dict) -> Response:
        if req["deleteFunction"] == 1:
            self.result_sets.clear()
            return ("deleteResultSetResponse", {"deleteOperationStatus": 0}), False
        statuses = []
        for name in req.get("resultSetList", []):
            statuses.append({"id": name, "status": 0 if self.result_sets.pop(name, None) is not None else 1})
        overall = 0 if all(s["status"] == 0 for s in statuses) else 9
        return ("deleteResultSetResponse", {"deleteOperationStatus": overall, "deleteListStatuses": statuses}), False


def charset_response(other_info: list[dict]) -> dict | None:
    """Answer a character-set proposal: UTF-8 when offered (records are UTF-8), else nothing."""
    for item in other_info:
        kind, value = item["information"]
        if kind != "externallyDefinedInfo" or value.get("direct-reference") != oids.CHARSET_NEGOTIATION_3:
            continue
        encoding = value["encoding"]
        if encoding[0] != "single-ASN1-type":
            return None
        try:
            proposal = codec.decode("CharSetandLanguageNegotiation", bytes(encoding[1]))
        except codec.ProtocolError:
            return None
        if proposal[0] != "proposal":
            return None
        offered = proposal[1].get("proposedCharSets", [])
        if not any(k == "iso10646" and v.get("encodingLevel") == oids.UTF8_ENCODING for k, v in offered):
            return None
        answer = ("response", {"selectedCharSets": ("iso10646", {"encodingLevel": oids.UTF8_ENCODING}), "recordsInSelectedCharSets": True})
        external = {
            "direct-reference": oids.CHARSET_NEGOTIATION_3,
            "encoding": ("single-ASN1-type", codec.encode("CharSetandLanguageNegotiation", answer)),
        }
        return {"information": ("externallyDefinedInfo", external)}
    return None
