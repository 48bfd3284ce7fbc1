"""CQL 1.2 parser and its translation into the search query model.

``parse(text)`` gives a small CQL syntax tree (``CqlClause``/``CqlBool``);
``to_query(tree)`` maps context-set indexes, relations, modifiers and masking
onto ``marc.search.query``.  Every refusal is an ``SruDiagnostic`` with the
standard number (10 syntax, 16 index, 19 relation, 20 modifier, 28 masking...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from marc.search.query import (
    AllRecords,
    Bool,
    BoolOp,
    Clause,
    Index,
    Proximity,
    Query,
    Relation,
    Truncation,
)
from marc.sru import diagnostics as d
from marc.sru.diagnostics import SruDiagnostic

# ---------------------------------------------------------------- context sets
CONTEXT_SETS = {
    "cql": "info:srw/cql-context-set/1/cql-v1.2",
    "dc": "info:srw/cql-context-set/1/dc-v1.1",
    "bath": "http://zing.z3950.org/cql/bath/2.0/",
    "rec": "info:srw/cql-context-set/2/rec-1.1",
}
DEFAULT_SET = "dc"

# (context set, index name) -> our index; cql.allRecords is handled apart.
INDEXES: dict[tuple[str, str], Index] = {
    ("cql", "serverchoice"): Index.ANY,
    ("cql", "anywhere"): Index.ANY,
    ("cql", "keywords"): Index.ANY,
    ("dc", "title"): Index.TITLE,
    ("dc", "creator"): Index.AUTHOR,
    ("dc", "author"): Index.AUTHOR,
    ("dc", "contributor"): Index.AUTHOR,
    ("dc", "subject"): Index.SUBJECT,
    ("dc", "identifier"): Index.ISBN,
    ("dc", "date"): Index.YEAR,
    ("dc", "language"): Index.LANGUAGE,
    ("dc", "type"): Index.MATERIAL,
    ("dc", "format"): Index.MATERIAL,
    ("bath", "title"): Index.TITLE,
    ("bath", "keytitle"): Index.TITLE,
    ("bath", "uniformtitle"): Index.TITLE,
    ("bath", "author"): Index.AUTHOR,
    ("bath", "name"): Index.AUTHOR,
    ("bath", "personalname"): Index.AUTHOR,
    ("bath", "corporatename"): Index.AUTHOR,
    ("bath", "conferencename"): Index.AUTHOR,
    ("bath", "subject"): Index.SUBJECT,
    ("bath", "topicalsubject"): Index.SUBJECT,
    ("bath", "geographicname"): Index.SUBJECT,
    ("bath", "isbn"): Index.ISBN,
    ("bath", "issn"): Index.ISSN,
    ("bath", "any"): Index.ANY,
    ("rec", "id"): Index.CONTROL,
    ("rec", "identifier"): Index.CONTROL,
}

TEXT_RELATIONS = {"=": Relation.ADJ, "scr": Relation.ADJ, "adj": Relation.ADJ, "all": Relation.ALL,
                  "any": Relation.ANY, "==": Relation.EXACT, "exact": Relation.EXACT}
ORDER_RELATIONS = {"<": Relation.LT, "<=": Relation.LE, ">": Relation.GT, ">=": Relation.GE, "<>": Relation.NE}
KNOWN_RELATIONS = set(TEXT_RELATIONS) | set(ORDER_RELATIONS) | {"within", "encloses"}
# Relation modifiers that change nothing here: we always fold case and accents
# and always honour masking.
NEUTRAL_MODIFIERS = {"ignorecase", "ignoreaccents", "masked", "word", "cql.ignorecase", "cql.ignoreaccents", "cql.masked", "cql.word"}
BOOLEANS = {"and": BoolOp.AND, "or": BoolOp.OR, "not": BoolOp.NOT, "prox": BoolOp.PROX}


# ---------------------------------------------------------------- syntax tree
@dataclass(frozen=True)
class Modifier:
    name: str
    comparitor: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class CqlClause:
    index: str | None  # None: cql.serverChoice
    relation: str
    term: str
    modifiers: tuple[Modifier, ...] = ()
    prefixes: tuple[tuple[str, str], ...] = ()  # prefix assignments in scope


@dataclass(frozen=True)
class CqlBool:
    op: str
    left: CqlNode
    right: CqlNode
    modifiers: tuple[Modifier, ...] = ()


CqlNode = CqlClause | CqlBool


@dataclass(frozen=True)
class SortKey:
    index: str
    modifiers: tuple[Modifier, ...] = ()


@dataclass
class CqlQuery:
    tree: CqlNode
    sort: list[SortKey] = field(default_factory=list)


# ---------------------------------------------------------------- tokenizer
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<unterminated>")
      | (?P<symbol>==|<>|<=|>=|[()=<>/])
      | (?P<word>[^\s()=<>"/]+)
    )""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string | symbol | word
    text: str  # strings keep their quotes removed but escapes intact
    pos: int


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, f"unexpected character at {pos}")
        if m.lastgroup == "unterminated":
            raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, f"unterminated quoted string at {m.start('unterminated')}")
        value = m.group(m.lastgroup)
        if m.lastgroup == "string":
            value = value[1:-1]
        out.append(Token(m.lastgroup, value, m.start(m.lastgroup)))
        pos = m.end()
    return out


# ---------------------------------------------------------------- parser
class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def next(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, "unexpected end of query")
        self.i += 1
        return tok

    def at_symbol(self, *symbols: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "symbol" and tok.text in symbols

    def at_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.lower() in words

    def parse(self) -> CqlQuery:
        if not self.tokens:
            raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, "empty query")
        tree = self.query(())
        sort = self.sort_spec() if self.at_word("sortby") else []
        if self.peek() is not None:
            tok = self.peek()
            raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, f"unexpected {tok.text!r} at {tok.pos}")
        return CqlQuery(tree, sort)

    def query(self, prefixes: tuple[tuple[str, str], ...]) -> CqlNode:
        while self.at_symbol(">"):
            prefixes = (*prefixes, self.prefix_assignment())
        node = self.search_clause(prefixes)
        while self.peek() is not None and self.at_word(*BOOLEANS):
            op = self.next().text.lower()
            mods = self.modifiers()
            node = CqlBool(op, node, self.search_clause(prefixes), mods)
        return node

    def prefix_assignment(self) -> tuple[str, str]:
        self.next()  # '>'
        first = self.term_token("context set prefix or URI")
        if self.at_symbol("="):
            self.next()
            return first.lower(), self.term_token("context set URI")
        return "", first

    def search_clause(self, prefixes: tuple[tuple[str, str], ...]) -> CqlNode:
        if self.at_symbol("("):
            self.next()
            node = self.query(prefixes)
            if not self.at_symbol(")"):
                raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, "missing ')'")
            self.next()
            return node
        if self.at_symbol(">"):
            return self.query(prefixes)
        first = self.term_token("search term")
        if self.is_relation_next():
            relation = self.next().text.lower()
            mods = self.modifiers()
            return CqlClause(first, relation, self.term_token("search term"), mods, prefixes)
        return CqlClause(None, "=", first, (), prefixes)

    def is_relation_next(self) -> bool:
        tok = self.peek()
        if tok is None:
            return False
        if tok.kind == "symbol":
            return tok.text not in ("(", ")", "/")
        # A named relation ("any", "all", "exact", "dc.foo"...) is followed by a term.
        after = self.peek(1)
        named = tok.kind == "word" and tok.text.lower() not in ("sortby",) and (
            tok.text.lower() in KNOWN_RELATIONS or "." in tok.text or tok.text.lower() not in BOOLEANS
        )
        return named and after is not None and (after.kind != "symbol" or after.text == "/")

    def modifiers(self) -> tuple[Modifier, ...]:
        mods = []
        while self.at_symbol("/"):
            self.next()
            name = self.term_token("modifier name").lower()
            if self.peek() is not None and self.peek().kind == "symbol" and self.peek().text in ("=", "==", "<", ">", "<=", ">=", "<>"):
                comparitor = self.next().text
                mods.append(Modifier(name, comparitor, self.term_token("modifier value")))
            else:
                mods.append(Modifier(name))
        return tuple(mods)

    def sort_spec(self) -> list[SortKey]:
        self.next()  # sortBy
        keys = []
        while self.peek() is not None:
            keys.append(SortKey(self.term_token("sort index"), self.modifiers()))
        if not keys:
            raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, "sortBy without an index")
        return keys

    def term_token(self, what: str) -> str:
        tok = self.peek()
        if tok is None or tok.kind == "symbol":
            where = f"at {tok.pos}" if tok else "at end of query"
            raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, f"expected {what} {where}")
        self.i += 1
        return tok.text


def parse(text: str) -> CqlQuery:
    """Parse CQL text (raises ``SruDiagnostic`` 10 on a syntax error)."""
    return _Parser(text).parse()


# ---------------------------------------------------------------- translation
def resolve_index(name: str | None, prefixes: tuple[tuple[str, str], ...] = ()) -> Index | None:
    """Our index for a CQL index name; ``None`` means cql.allRecords."""
    if name is None:
        return Index.ANY
    prefix, _, base = name.rpartition(".")
    prefix = prefix.lower() or _default_set(prefixes)
    uri_by_prefix = {**CONTEXT_SETS, **{p: u for p, u in prefixes if p}}
    uri = uri_by_prefix.get(prefix)
    if uri is None:
        raise SruDiagnostic(d.UNSUPPORTED_CONTEXT_SET, prefix)
    known = {u: p for p, u in CONTEXT_SETS.items()}
    if uri not in known:
        raise SruDiagnostic(d.UNSUPPORTED_CONTEXT_SET, uri)
    canonical = (known[uri], base.lower())
    if canonical == ("cql", "allrecords"):
        return None
    if canonical not in INDEXES:
        raise SruDiagnostic(d.UNSUPPORTED_INDEX, name)
    return INDEXES[canonical]


def _default_set(prefixes: tuple[tuple[str, str], ...]) -> str:
    defaults = [u for p, u in prefixes if not p]
    if defaults:
        known = {u: p for p, u in CONTEXT_SETS.items()}
        if defaults[-1] not in known:
            raise SruDiagnostic(d.UNSUPPORTED_CONTEXT_SET, defaults[-1])
        return known[defaults[-1]]
    return DEFAULT_SET


def to_query(tree: CqlNode) -> Query:
    """Translate a parsed CQL tree (raises ``SruDiagnostic``)."""
    if isinstance(tree, CqlBool):
        op = BOOLEANS[tree.op]
        proximity = _proximity(tree.modifiers) if op is BoolOp.PROX else None
        if op is not BoolOp.PROX and tree.modifiers:
            raise SruDiagnostic(d.UNSUPPORTED_BOOLEAN_MODIFIER, tree.modifiers[0].name)
        return Bool(op, to_query(tree.left), to_query(tree.right), proximity)
    return _clause(tree)


def _proximity(mods: tuple[Modifier, ...]) -> Proximity:
    distance, ordered = 1, False
    for mod in mods:
        name = mod.name.removeprefix("cql.")
        if name == "unit":
            if (mod.value or "").lower() != "word":
                raise SruDiagnostic(d.UNSUPPORTED_PROXIMITY_UNIT, mod.value or "")
        elif name == "distance":
            if mod.comparitor not in ("<=", "<") or not (mod.value or "").isdigit():
                raise SruDiagnostic(d.UNSUPPORTED_PROXIMITY_RELATION, f"distance{mod.comparitor}{mod.value}")
            distance = int(mod.value) - (1 if mod.comparitor == "<" else 0)
            if distance < 1:
                raise SruDiagnostic(d.UNSUPPORTED_PROXIMITY_DISTANCE, mod.value or "")
        elif name in ("ordered", "unordered"):
            ordered = name == "ordered"
        else:
            raise SruDiagnostic(d.UNSUPPORTED_BOOLEAN_MODIFIER, mod.name)
    return Proximity(distance=distance, ordered=ordered)


def _clause(clause: CqlClause) -> Query:
    index = resolve_index(clause.index, clause.prefixes)
    if index is None:
        return AllRecords()
    relation_name = clause.relation.removeprefix("cql.")
    if relation_name not in KNOWN_RELATIONS:
        raise SruDiagnostic(d.UNSUPPORTED_RELATION, clause.relation)
    unmasked = False
    for mod in clause.modifiers:
        if mod.name == "unmasked" or mod.name == "cql.unmasked":
            unmasked = True
        elif mod.name not in NEUTRAL_MODIFIERS or mod.comparitor is not None:
            raise SruDiagnostic(d.UNSUPPORTED_RELATION_MODIFIER, mod.name)
    if index is Index.YEAR:
        return _year(clause.term, relation_name)
    if relation_name in ORDER_RELATIONS or relation_name in ("within", "encloses"):
        raise SruDiagnostic(d.UNSUPPORTED_RELATION_FOR_INDEX, f"{clause.relation} on {clause.index}")
    relation = TEXT_RELATIONS[relation_name]
    term, truncation, anchored_start, anchored_end = _masking(clause.term, unmasked)
    if anchored_start and anchored_end:
        relation = Relation.EXACT
    elif anchored_start:
        relation = Relation.FIRST
    elif anchored_end:
        raise SruDiagnostic(d.ANCHOR_IN_UNSUPPORTED_POSITION, "'^' at the end needs '^' at the start too")
    if not term.strip():
        raise SruDiagnostic(d.EMPTY_TERM, clause.index or "cql.serverChoice")
    return Clause(index, term, relation, truncation)


def _year(term: str, relation: str) -> Query:
    if relation in ("within", "encloses"):
        bounds = term.split()
        if relation == "encloses" or len(bounds) != 2 or not all(b.isdigit() for b in bounds):
            raise SruDiagnostic(d.TERM_FORMAT_FOR_RELATION, f"{relation} {term!r}: expected two years")
        return Bool(BoolOp.AND, Clause(Index.YEAR, bounds[0], Relation.GE), Clause(Index.YEAR, bounds[1], Relation.LE))
    if not term.strip().isdigit():
        raise SruDiagnostic(d.TERM_INVALID_FOR_INDEX, f"dc.date needs a year, not {term!r}")
    return Clause(Index.YEAR, term.strip(), ORDER_RELATIONS.get(relation, Relation.EQ_NUMBER))


def _masking(term: str, unmasked: bool) -> tuple[str, Truncation, bool, bool]:
    """Resolve escapes, '*' / '?' masking and '^' anchoring in a term."""
    out: list[str] = []
    masks: list[int] = []
    anchors: list[int] = []
    i = 0
    while i < len(term):
        ch = term[i]
        if ch == "\\" and i + 1 < len(term):
            out.append(term[i + 1])
            i += 2
            continue
        if not unmasked and ch in "*?":
            if ch == "?":
                raise SruDiagnostic(d.MASKING_NOT_SUPPORTED, "'?' (single character mask)")
            masks.append(len(out))
        elif not unmasked and ch == "^":
            anchors.append(len(out))
        else:
            out.append(ch)
        i += 1
    text = "".join(out)
    if any(m != len(text) for m in masks) or len(masks) > 1:
        raise SruDiagnostic(d.MASKING_NOT_SUPPORTED, "'*' is supported only at the end of the term")
    if any(a not in (0, len(text)) for a in anchors):
        raise SruDiagnostic(d.ANCHOR_IN_UNSUPPORTED_POSITION, "'^' must be at the start or end")
    starts = 0 in anchors and text != ""
    ends = len(text) in anchors and (text != "" or len(anchors) > 1)
    return text, Truncation.RIGHT if masks else Truncation.NONE, starts, ends


def cql_to_query(text: str) -> tuple[Query, list[SortKey]]:
    """Parse and translate in one step."""
    parsed = parse(text)
    return to_query(parsed.tree), parsed.sort
