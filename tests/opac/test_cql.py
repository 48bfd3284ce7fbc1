"""CQL parsing and translation, with the SRU diagnostic each mistake earns."""

from __future__ import annotations

import pytest

from marc.search import AllRecords, Bool, BoolOp, Clause, Index, Relation, Truncation
from marc.sru.cql import cql_to_query, parse
from marc.sru.diagnostics import SruDiagnostic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dc.title=history", Clause(Index.TITLE, "history", Relation.ADJ)),
        ("history", Clause(Index.ANY, "history", Relation.ADJ)),
        ("cql.serverChoice all \"a b\"", Clause(Index.ANY, "a b", Relation.ALL)),
        ("title any \"war peace\"", Clause(Index.TITLE, "war peace", Relation.ANY)),
        ("dc.creator == \"Smith, John\"", Clause(Index.AUTHOR, "Smith, John", Relation.EXACT)),
        ("bath.isbn=9780306406157", Clause(Index.ISBN, "9780306406157", Relation.ADJ)),
        ("bath.issn exact 0022-2259", Clause(Index.ISSN, "0022-2259", Relation.EXACT)),
        ("rec.id=rec4", Clause(Index.CONTROL, "rec4", Relation.ADJ)),
        ("dc.date > 1990", Clause(Index.YEAR, "1990", Relation.GT)),
        ("dc.date <> 1990", Clause(Index.YEAR, "1990", Relation.NE)),
        ("dc.date = 1990", Clause(Index.YEAR, "1990", Relation.EQ_NUMBER)),
        ("dc.language=vie", Clause(Index.LANGUAGE, "vie", Relation.ADJ)),
        ("dc.type=serial", Clause(Index.MATERIAL, "serial", Relation.ADJ)),
        ("title=hist*", Clause(Index.TITLE, "hist", Relation.ADJ, Truncation.RIGHT)),
        ("title=^journal", Clause(Index.TITLE, "journal", Relation.FIRST)),
        ("title=\"^botanical materia medica^\"", Clause(Index.TITLE, "botanical materia medica", Relation.EXACT)),
        ("title=\"a \\\"quoted\\\" word\"", Clause(Index.TITLE, "a \"quoted\" word", Relation.ADJ)),
        ("title=\"star\\*\"", Clause(Index.TITLE, "star*", Relation.ADJ)),
        ("dc.title =/ignoreCase/ignoreAccents viet", Clause(Index.TITLE, "viet", Relation.ADJ)),
        ("cql.allRecords = 1", AllRecords()),
        ("DC.TITLE=x", Clause(Index.TITLE, "x", Relation.ADJ)),
        (">b=\"http://zing.z3950.org/cql/bath/2.0/\" b.isbn=1", Clause(Index.ISBN, "1", Relation.ADJ)),
    ],
)
def test_clauses(text, expected):
    query, sort = cql_to_query(text)
    assert query == expected
    assert sort == []


def test_booleans_are_left_associative_and_parentheses_group():
    a, b, c = (Clause(Index.ANY, w, Relation.ADJ) for w in "abc")
    assert cql_to_query("a and b or c")[0] == Bool(BoolOp.OR, Bool(BoolOp.AND, a, b), c)
    assert cql_to_query("a and (b or c)")[0] == Bool(BoolOp.AND, a, Bool(BoolOp.OR, b, c))
    assert cql_to_query("a NOT b")[0] == Bool(BoolOp.NOT, a, b)


def test_within_on_dates_and_proximity_modifiers():
    query, _ = cql_to_query('dc.date within "1990 2000"')
    assert query == Bool(BoolOp.AND, Clause(Index.YEAR, "1990", Relation.GE), Clause(Index.YEAR, "2000", Relation.LE))
    prox, _ = cql_to_query("history prox/unit=word/distance<=3/ordered states")
    assert prox.op is BoolOp.PROX and prox.proximity.distance == 3 and prox.proximity.ordered


def test_sort_by():
    parsed = parse("dc.title=x sortBy dc.date/sort.descending dc.title")
    assert [k.index for k in parsed.sort] == ["dc.date", "dc.title"]
    assert parsed.sort[0].modifiers[0].name == "sort.descending"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("", 10),
        ("(a", 10),
        ("a)", 10),
        ("title=", 10),
        ('"unterminated', 10),
        ("a and", 10),
        ("a b", 10),
        ("x.title=1", 15),
        ("dc.foo=x", 16),
        ("bath.nosuch=x", 16),
        ("title fuzzy x", 19),
        ("title =/stem x", 20),
        ("title =/relevant x", 20),
        ("title < x", 22),
        ("dc.date=nineteen", 36),
        ('dc.date within "1990"', 24),
        ('title=""', 27),
        ("title=a*b", 28),
        ("title=a?", 28),
        ("title=ab^c", 32),
        ("a prox/unit=sentence b", 42),
        ("a prox/distance>2 b", 40),
        ("a and/foo b", 46),
    ],
)
def test_mistakes_get_their_diagnostic(text, number):
    with pytest.raises(SruDiagnostic) as error:
        cql_to_query(text)
    assert error.value.number == number
    assert error.value.uri == f"info:srw/diagnostic/1/{number}"
    assert error.value.message
