"""Type-1 (RPN) queries with Bib-1 attributes -> the search query model,
and the Bib-1 diagnostic numbers (diagnostic set 1.2.840.10003.4.1)."""

from __future__ import annotations

from dataclasses import dataclass

from marc.search.query import (
    Bool,
    BoolOp,
    Clause,
    Index,
    Problem,
    Proximity,
    Query,
    QueryError,
    Relation,
    ResultSetRef,
    Truncation,
)
from marc.z3950 import oids

# ---------------------------------------------------------------- diagnostics
PERMANENT_SYSTEM_ERROR = 1
UNSUPPORTED_SEARCH = 3
PRESENT_OUT_OF_RANGE = 13
SYSTEM_ERROR_PRESENTING = 14
RESULT_SET_EXISTS_NO_REPLACE = 21
ELEMENT_SET_NAME_NOT_VALID = 25
RESULT_SET_DELETED_BY_TARGET = 27
RESULT_SET_DOES_NOT_EXIST = 30
UNSPECIFIED_ERROR = 100
QUERY_TYPE_UNSUPPORTED = 107
MALFORMED_QUERY = 108
OPERATOR_UNSUPPORTED = 110
TOO_MANY_DATABASES = 111
UNSUPPORTED_ATTRIBUTE_TYPE = 113
UNSUPPORTED_USE = 114
UNSUPPORTED_TERM_VALUE_FOR_USE = 115
UNSUPPORTED_RELATION = 117
UNSUPPORTED_STRUCTURE = 118
UNSUPPORTED_POSITION = 119
UNSUPPORTED_TRUNCATION = 120
UNSUPPORTED_ATTRIBUTE_SET = 121
UNSUPPORTED_COMPLETENESS = 122
UNSUPPORTED_ATTRIBUTE_COMBINATION = 123
MALFORMED_TERM = 125
ILLEGAL_RESULT_SET_NAME = 128
PROXIMITY_OF_SETS_UNSUPPORTED = 129
UNSUPPORTED_PROXIMITY_RELATION = 131
UNSUPPORTED_PROXIMITY_UNIT = 132
ONLY_ZERO_STEP_SIZE = 205
CANNOT_SORT = 207
UNSUPPORTED_TERM_TYPE = 229
DATABASE_DOES_NOT_EXIST = 235
RECORD_SYNTAX_UNSUPPORTED = 239

FOR_PROBLEM = {
    Problem.UNSUPPORTED_INDEX: UNSUPPORTED_USE,
    Problem.UNSUPPORTED_RELATION: UNSUPPORTED_ATTRIBUTE_COMBINATION,
    Problem.UNSUPPORTED_TRUNCATION: UNSUPPORTED_TRUNCATION,
    Problem.EMPTY_TERM: MALFORMED_TERM,
    Problem.TERM_FORMAT: UNSUPPORTED_TERM_VALUE_FOR_USE,
    Problem.UNSUPPORTED_PROXIMITY: UNSUPPORTED_PROXIMITY_RELATION,
    Problem.UNKNOWN_RESULT_SET: RESULT_SET_DOES_NOT_EXIST,
}


class Bib1Error(Exception):
    """A Bib-1 diagnostic: condition number plus addinfo."""

    def __init__(self, condition: int, addinfo: str = "") -> None:
        super().__init__(f"Bib-1 diagnostic {condition}: {addinfo}")
        self.condition = condition
        self.addinfo = addinfo

    @classmethod
    def from_query_error(cls, error: QueryError) -> Bib1Error:
        return cls(FOR_PROBLEM[error.problem], error.detail or str(error))


# ---------------------------------------------------------------- attributes
USE, RELATION, POSITION, STRUCTURE, TRUNCATION, COMPLETENESS = 1, 2, 3, 4, 5, 6

USE_ATTRIBUTES: dict[int, Index] = {
    1: Index.AUTHOR,  # personal name
    2: Index.AUTHOR,  # corporate name
    3: Index.AUTHOR,  # conference name
    4: Index.TITLE,
    5: Index.TITLE,  # title series
    6: Index.TITLE,  # title uniform
    7: Index.ISBN,
    8: Index.ISSN,
    9: Index.CONTROL,  # LC card number
    12: Index.CONTROL,  # local number
    21: Index.SUBJECT,
    30: Index.YEAR,  # date
    31: Index.YEAR,  # date of publication
    33: Index.TITLE,  # title key
    54: Index.LANGUAGE,  # code-language
    1003: Index.AUTHOR,
    1004: Index.AUTHOR,  # author-name personal
    1016: Index.ANY,
    1031: Index.MATERIAL,  # material-type
    1035: Index.ANY,  # anywhere
}
# String use attributes (@attr 1=title) name our indexes directly.
STRING_USES = {index.value: index for index in Index}
ORDERING_RELATIONS = {1: Relation.LT, 2: Relation.LE, 4: Relation.GE, 5: Relation.GT, 6: Relation.NE}
EQUAL, RELEVANCE = 3, 102  # relevance: same set, no ranking
POSITIONS_FIRST = {1, 2}  # first in field, first in subfield
POSITION_ANY = 3
STRUCTURE_PHRASE = {1, 108}  # phrase, string
STRUCTURE_WORDS = {2, 6, 105, 106}  # word, word list, free-form text, document text
STRUCTURE_KEY = {3}
STRUCTURE_NUMERIC = {4, 5, 100, 107, 109}  # year, date, date un-normalised, local number, numeric string
TRUNCATION_RIGHT, TRUNCATION_NONE = 1, 100
COMPLETE = {2, 3}  # complete subfield, complete field
INCOMPLETE = 1


@dataclass
class Attributes:
    use: Index = Index.ANY
    relation: int = EQUAL
    position: int = POSITION_ANY
    structure: int | None = None
    truncation: int = TRUNCATION_NONE
    completeness: int = INCOMPLETE


def attribute_value(element: dict) -> int | str:
    kind, value = element["attributeValue"]
    if kind == "numeric":
        return value
    strings = [v for k, v in value["list"] if k == "string"]
    numbers = [v for k, v in value["list"] if k == "numeric"]
    if numbers:
        return numbers[0]
    if strings:
        return strings[0]
    raise Bib1Error(UNSUPPORTED_ATTRIBUTE_TYPE, "empty complex attribute")


def read_attributes(elements: list[dict], default_set: str) -> Attributes:
    attrs = Attributes()
    for element in elements:
        attribute_set = element.get("attributeSet", default_set)
        if attribute_set != oids.BIB1_ATTRIBUTES:
            raise Bib1Error(UNSUPPORTED_ATTRIBUTE_SET, attribute_set)
        kind, value = element["attributeType"], attribute_value(element)
        if kind == USE:
            attrs.use = _use(value)
        elif kind == RELATION:
            if value not in ORDERING_RELATIONS and value not in (EQUAL, RELEVANCE):
                raise Bib1Error(UNSUPPORTED_RELATION, str(value))
            attrs.relation = value  # type: ignore[assignment]
        elif kind == POSITION:
            if value not in POSITIONS_FIRST and value != POSITION_ANY:
                raise Bib1Error(UNSUPPORTED_POSITION, str(value))
            attrs.position = value  # type: ignore[assignment]
        elif kind == STRUCTURE:
            if value not in STRUCTURE_PHRASE | STRUCTURE_WORDS | STRUCTURE_KEY | STRUCTURE_NUMERIC:
                raise Bib1Error(UNSUPPORTED_STRUCTURE, str(value))
            attrs.structure = value  # type: ignore[assignment]
        elif kind == TRUNCATION:
            if value not in (TRUNCATION_RIGHT, TRUNCATION_NONE):
                raise Bib1Error(UNSUPPORTED_TRUNCATION, str(value))
            attrs.truncation = value  # type: ignore[assignment]
        elif kind == COMPLETENESS:
            if value not in COMPLETE and value != INCOMPLETE:
                raise Bib1Error(UNSUPPORTED_COMPLETENESS, str(value))
            attrs.completeness = value  # type: ignore[assignment]
        else:
            raise Bib1Error(UNSUPPORTED_ATTRIBUTE_TYPE, str(kind))
    return attrs


def _use(value: int | str) -> Index:
    if isinstance(value, str):
        if value.lower() in STRING_USES:
            return STRING_USES[value.lower()]
        raise Bib1Error(UNSUPPORTED_USE, value)
    if value not in USE_ATTRIBUTES:
        raise Bib1Error(UNSUPPORTED_USE, str(value))
    return USE_ATTRIBUTES[value]


def clause(attrs: Attributes, term: str) -> Clause:
    """One attributes-plus-term operand as a query clause."""
    truncation = Truncation.RIGHT if attrs.truncation == TRUNCATION_RIGHT else Truncation.NONE
    if attrs.use is Index.YEAR:
        relation = ORDERING_RELATIONS.get(attrs.relation, Relation.EQ_NUMBER)
        return Clause(Index.YEAR, term.strip(), relation, truncation)
    if attrs.relation in ORDERING_RELATIONS:
        raise Bib1Error(UNSUPPORTED_ATTRIBUTE_COMBINATION, f"relation {attrs.relation} with use {attrs.use.value}")
    if attrs.completeness in COMPLETE or attrs.structure in STRUCTURE_KEY:
        relation = Relation.EXACT
    elif attrs.position in POSITIONS_FIRST:
        relation = Relation.FIRST
    elif attrs.structure in STRUCTURE_WORDS:
        relation = Relation.ALL
    else:
        relation = Relation.ADJ  # phrase, string, or no structure given
    return Clause(attrs.use, term, relation, truncation)


def term_text(term: tuple[str, object]) -> str:
    kind, value = term
    if kind == "general":
        return bytes(value).decode("utf-8", "replace")  # type: ignore[arg-type]
    if kind == "characterString":
        return str(value)
    if kind == "numeric":
        return str(value)
    raise Bib1Error(UNSUPPORTED_TERM_TYPE, kind)


def rpn_to_query(rpn: dict) -> Query:
    """A decoded RPNQuery (``{'attributeSet', 'rpn'}``) as a query tree."""
    return _structure(rpn["rpn"], rpn["attributeSet"])


def _structure(node: tuple[str, object], default_set: str) -> Query:
    kind, value = node
    if kind == "op":
        return _operand(value, default_set)  # type: ignore[arg-type]
    assert isinstance(value, dict)
    left, right = _structure(value["rpn1"], default_set), _structure(value["rpn2"], default_set)
    op_kind, op_value = value["op"]
    if op_kind == "and":
        return Bool(BoolOp.AND, left, right)
    if op_kind == "or":
        return Bool(BoolOp.OR, left, right)
    if op_kind == "and-not":
        return Bool(BoolOp.NOT, left, right)
    return Bool(BoolOp.PROX, left, right, _proximity(op_value, left, right))  # type: ignore[arg-type]


def _operand(operand: tuple[str, object], default_set: str) -> Query:
    kind, value = operand
    if kind == "attrTerm":
        assert isinstance(value, dict)
        attrs = read_attributes(value["attributes"], default_set)
        return clause(attrs, term_text(value["term"]))
    if kind == "resultSet":
        return ResultSetRef(str(value))
    raise Bib1Error(UNSUPPORTED_SEARCH, "restricted result sets")


def _proximity(prox: dict, left: Query, right: Query) -> Proximity:
    if isinstance(left, ResultSetRef) or isinstance(right, ResultSetRef):
        raise Bib1Error(PROXIMITY_OF_SETS_UNSUPPORTED)
    unit_kind, unit = prox["proximityUnitCode"]
    if unit_kind != "known" or unit != 2:
        raise Bib1Error(UNSUPPORTED_PROXIMITY_UNIT, str(unit))
    if prox.get("exclusion") or prox["relationType"] not in (1, 2):
        raise Bib1Error(UNSUPPORTED_PROXIMITY_RELATION, str(prox["relationType"]))
    distance = prox["distance"] - (1 if prox["relationType"] == 1 else 0)
    if distance < 1:
        raise Bib1Error(UNSUPPORTED_PROXIMITY_RELATION, f"distance {prox['distance']}")
    return Proximity(distance=distance, ordered=bool(prox["ordered"]))
