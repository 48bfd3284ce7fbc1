"""Turning a query tree into SQL, the parts both backends share.

A subtree made only of text clauses becomes one full-text expression (one
FTS5 MATCH or one tsquery) so the engine evaluates it in a single index
lookup; anything else (year ranges, all records) becomes SQL set operations
over subqueries.  The backend supplies the full-text dialect.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from marc.search.normalize import (
    VALUE_END,
    VALUE_START,
    identifier,
    is_lone_cjk,
    query_tokens,
)
from marc.search.query import (
    AllRecords,
    Bool,
    BoolOp,
    Clause,
    Index,
    Problem,
    Query,
    QueryError,
    Relation,
    Truncation,
    check_clause,
)

YEAR_OPERATORS = {Relation.LT: "<", Relation.LE: "<=", Relation.GT: ">", Relation.GE: ">=", Relation.NE: "<>"}
ALL_DOCS = "SELECT record_id AS id FROM search_docs"
NO_DOCS = "SELECT record_id AS id FROM search_docs WHERE 1 = 0"
SET_OPERATORS = {BoolOp.AND: "INTERSECT", BoolOp.OR: "UNION", BoolOp.NOT: "EXCEPT"}


class Compiler(abc.ABC):
    """Compiles one query; ``params`` collects the bound values."""

    def __init__(self, placeholder: Callable[[str], str]) -> None:
        self.params: dict[str, object] = {}
        self.placeholder = placeholder  # the DB-API driver's named parameter style
        self._aliases = 0

    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return self.placeholder(name)

    def alias(self) -> str:
        self._aliases += 1
        return f"s{self._aliases}"

    # -- full-text dialect -------------------------------------------------
    @abc.abstractmethod
    def phrase(self, index: Index, toks: list[str], prefix: bool) -> str: ...

    @abc.abstractmethod
    def combine(self, op: BoolOp, left: str, right: str) -> str: ...

    @abc.abstractmethod
    def near(self, index: Index, left: list[str], right: list[str], distance: int, ordered: bool) -> str: ...

    @abc.abstractmethod
    def match_sql(self, expression: str) -> str:
        """SELECT of the ids matching a full-text expression."""

    # -- the tree ----------------------------------------------------------
    def compile(self, query: Query) -> str:
        kind, body = self._node(query)
        return self.match_sql(body) if kind == "match" else body

    def _node(self, query: Query) -> tuple[str, str]:
        if isinstance(query, AllRecords):
            return "sql", ALL_DOCS
        if isinstance(query, Clause):
            return self._clause(query)
        if isinstance(query, Bool):
            return self._bool(query)
        raise TypeError(f"cannot compile {query!r}")

    def _clause(self, clause: Clause) -> tuple[str, str]:
        check_clause(clause)
        if clause.index is Index.YEAR:
            op = YEAR_OPERATORS.get(clause.relation, "=")
            return "sql", f"SELECT record_id AS id FROM search_docs WHERE year {op} {self.bind(int(clause.term))}"
        term = identifier(clause.term) if clause.index in (Index.ISBN, Index.ISSN) else clause.term
        toks = query_tokens(term)
        if not toks:
            return "sql", NO_DOCS
        return "match", self._text(clause, toks)

    def _text(self, clause: Clause, toks: list[str]) -> str:
        index, prefix = clause.index, clause.truncation is Truncation.RIGHT
        rel = clause.relation
        if rel in (Relation.ALL, Relation.ANY):
            op = BoolOp.AND if rel is Relation.ALL else BoolOp.OR
            parts = [self.phrase(index, [t], prefix and i == len(toks) - 1 or is_lone_cjk(t)) for i, t in enumerate(toks)]
            expr = parts[0]
            for part in parts[1:]:
                expr = self.combine(op, expr, part)
            return expr
        last_is_prefix = prefix or (len(toks) == 1 and is_lone_cjk(toks[0]))
        if rel is Relation.ADJ:
            return self.phrase(index, toks, last_is_prefix)
        if rel is Relation.FIRST or (rel is Relation.EXACT and last_is_prefix):
            return self.phrase(index, [VALUE_START, *toks], last_is_prefix)
        return self.phrase(index, [VALUE_START, *toks, VALUE_END], False)

    def _bool(self, node: Bool) -> tuple[str, str]:
        if node.op is BoolOp.PROX:
            return "match", self._prox(node)
        (lk, left), (rk, right) = self._node(node.left), self._node(node.right)
        if lk == rk == "match":
            return "match", self.combine(node.op, left, right)
        left_sql = self.match_sql(left) if lk == "match" else left
        right_sql = self.match_sql(right) if rk == "match" else right
        a, b = self.alias(), self.alias()
        return "sql", f"SELECT {a}.id FROM ({left_sql}) {a} {SET_OPERATORS[node.op]} SELECT {b}.id FROM ({right_sql}) {b}"

    def _prox(self, node: Bool) -> str:
        """Word proximity between two text clauses of the same index."""
        prox = node.proximity
        left, right = node.left, node.right
        if (
            prox is None
            or prox.unit != "word"
            or not isinstance(left, Clause)
            or not isinstance(right, Clause)
            or left.index != right.index
            or left.index is Index.YEAR
        ):
            raise QueryError(Problem.UNSUPPORTED_PROXIMITY, "only word proximity between two terms of one index")
        check_clause(left)
        check_clause(right)
        ltoks, rtoks = query_tokens(left.term), query_tokens(right.term)
        if not ltoks or not rtoks:
            raise QueryError(Problem.EMPTY_TERM, "proximity operand")
        return self.near(left.index, ltoks, rtoks, max(prox.distance, 0), prox.ordered)
