"""The query model both CQL and Z39.50 Type-1 (RPN) queries translate into.

A query is a tree: ``Bool`` nodes (and / or / not / prox) over ``Clause``
leaves (index, relation, term, truncation) and ``AllRecords``.  Protocol
adapters build the tree and map ``QueryError.problem`` to their own
diagnostics; the search backends compile it to SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Index(str, enum.Enum):
    """The searchable indexes: one per access point."""

    TITLE = "title"
    AUTHOR = "author"
    SUBJECT = "subject"
    ISBN = "isbn"
    ISSN = "issn"
    CONTROL = "control"  # 001 control number / local record number
    YEAR = "year"
    LANGUAGE = "language"
    MATERIAL = "material"
    ANY = "any"


TEXT_INDEXES = tuple(i for i in Index if i is not Index.YEAR)
# Indexes whose values are bracketed by sentinels, so "first in field" and
# "complete field" can be asked of them.
PHRASE_INDEXES = (Index.TITLE, Index.AUTHOR, Index.SUBJECT, Index.ISBN, Index.ISSN, Index.CONTROL, Index.LANGUAGE, Index.MATERIAL)


class Relation(str, enum.Enum):
    """How a clause's term is compared with the index."""

    ALL = "all"  # every word, anywhere in the field
    ANY = "any"  # at least one word
    ADJ = "adj"  # the words as a phrase
    FIRST = "first"  # a phrase at the start of a field value
    EXACT = "exact"  # a whole field value
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    NE = "<>"
    EQ_NUMBER = "=="  # numeric equality (year)


ORDERING = (Relation.LT, Relation.LE, Relation.GT, Relation.GE, Relation.NE, Relation.EQ_NUMBER)


class Truncation(str, enum.Enum):
    NONE = "none"
    RIGHT = "right"  # the last word is a prefix


class Problem(enum.Enum):
    """Why a query cannot be run; adapters map these to their diagnostic sets."""

    UNSUPPORTED_INDEX = "unsupported index"
    UNSUPPORTED_RELATION = "unsupported relation for this index"
    UNSUPPORTED_TRUNCATION = "unsupported truncation or masking"
    EMPTY_TERM = "empty term"
    TERM_FORMAT = "term in invalid format for index or relation"
    UNSUPPORTED_PROXIMITY = "unsupported proximity"
    UNKNOWN_RESULT_SET = "result set does not exist"


class QueryError(Exception):
    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Clause:
    index: Index
    term: str
    relation: Relation = Relation.ALL
    truncation: Truncation = Truncation.NONE


@dataclass(frozen=True)
class AllRecords:
    pass


@dataclass(frozen=True)
class ResultSetRef:
    """A previous result set used as an operand (Z39.50 named result sets)."""

    name: str


class BoolOp(str, enum.Enum):
    AND = "and"
    OR = "or"
    NOT = "not"  # left and not right
    PROX = "prox"


@dataclass(frozen=True)
class Proximity:
    distance: int = 1
    ordered: bool = False
    unit: str = "word"  # only words are supported
    relation: str = "<="  # "<=" (within distance) or "=" (exactly)


@dataclass(frozen=True)
class Bool:
    op: BoolOp
    left: Query
    right: Query
    proximity: Proximity | None = field(default=None)


Query = Clause | Bool | AllRecords | ResultSetRef


def check_clause(clause: Clause) -> None:
    """Refuse clauses no backend can run, with the reason."""
    if not clause.term.strip() and clause.relation not in ORDERING:
        raise QueryError(Problem.EMPTY_TERM, clause.index.value)
    if clause.index is Index.YEAR:
        if clause.truncation is not Truncation.NONE:
            raise QueryError(Problem.UNSUPPORTED_TRUNCATION, "year")
        try:
            int(clause.term.strip())
        except ValueError:
            raise QueryError(Problem.TERM_FORMAT, f"year must be a number, not {clause.term!r}") from None
        return
    if clause.relation in ORDERING:
        raise QueryError(Problem.UNSUPPORTED_RELATION, f"{clause.relation.value} on {clause.index.value}")
    if clause.relation in (Relation.FIRST, Relation.EXACT) and clause.index not in PHRASE_INDEXES:
        raise QueryError(Problem.UNSUPPORTED_RELATION, f"{clause.relation.value} on {clause.index.value}")
