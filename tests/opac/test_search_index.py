"""The search index on SQLite (FTS5) and PostgreSQL (tsvector): every index,
Unicode folding, CJK without spaces, truncation, phrases, booleans, upkeep."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from ils_bridge.storage.schema import bib_records
from marc.search import (
    AllRecords,
    Bool,
    BoolOp,
    Clause,
    Index,
    Problem,
    Proximity,
    QueryError,
    Relation,
    ResultSetRef,
    Truncation,
    open_index,
)
from marc.search.normalize import fold, query_tokens, tokens
from tests.opac.conftest import marc_record


def controls(engine, ids: list[int]) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(bib_records.select().where(bib_records.c.id.in_(ids)))
        return {r.control_number for r in rows}


def find(engine, query) -> set[str]:
    return controls(engine, open_index(engine).search(query))


def test_folding_drops_vietnamese_tones_and_case():
    assert fold("Tiếng Việt ĐƯỜNG") == "tieng viet duong"
    assert tokens("Nguyễn Văn Huệ") == ["nguyen", "van", "hue"]


def test_cjk_runs_become_bigrams_plus_last_character():
    assert tokens("图书馆学") == ["图书", "书馆", "馆学", "学"]
    assert query_tokens("图书馆") == ["图书", "书馆"]
    assert tokens("abc中文def") == ["abc", "中文", "文", "def"]


EACH_INDEX = [
        (Clause(Index.TITLE, "history"), {"rec1", "rec5", "rec6"}),
        (Clause(Index.AUTHOR, "morris"), {"rec1"}),
        (Clause(Index.SUBJECT, "botany"), {"rec2"}),
        (Clause(Index.ISBN, "9780306406157"), {"rec1"}),
        (Clause(Index.ISBN, "7303045569"), {"rec3"}),
        (Clause(Index.ISSN, "0022-2259"), {"rec5"}),
        (Clause(Index.CONTROL, "rec4"), {"rec4"}),
        (Clause(Index.YEAR, "1950", Relation.EQ_NUMBER), {"rec6"}),
        (Clause(Index.YEAR, "2000", Relation.GT), {"rec3", "rec4"}),
        (Clause(Index.YEAR, "1905", Relation.LE), {"rec1", "rec2"}),
        (Clause(Index.LANGUAGE, "vie"), {"rec4"}),
        (Clause(Index.MATERIAL, "serial"), {"rec5"}),
        (Clause(Index.ANY, "medica"), {"rec2"}),
        (AllRecords(), {"rec1", "rec2", "rec3", "rec4", "rec5", "rec6"}),
]


def test_each_index_finds_its_records(catalogue_engine):
    # One database for all cases: building one per case on PostgreSQL costs more than the searches.
    for query, expected in EACH_INDEX:
        assert find(catalogue_engine, query) == expected, query


def test_chinese_without_spaces(catalogue_engine):
    assert find(catalogue_engine, Clause(Index.TITLE, "图书馆")) == {"rec3"}
    assert find(catalogue_engine, Clause(Index.TITLE, "馆")) == {"rec3"}  # one character: a prefix of its bigram
    assert find(catalogue_engine, Clause(Index.TITLE, "概论")) == {"rec3"}
    assert find(catalogue_engine, Clause(Index.TITLE, "书图")) == set()


def test_vietnamese_with_and_without_tone_marks(catalogue_engine):
    assert find(catalogue_engine, Clause(Index.TITLE, "tiếng việt")) == {"rec4"}
    assert find(catalogue_engine, Clause(Index.TITLE, "tieng viet")) == {"rec4"}
    assert find(catalogue_engine, Clause(Index.AUTHOR, "NGUYEN hue", Relation.ALL)) == {"rec4"}


def test_truncation_phrase_first_and_exact(catalogue_engine):
    assert find(catalogue_engine, Clause(Index.TITLE, "hist", truncation=Truncation.RIGHT)) == {"rec1", "rec5", "rec6"}
    assert find(catalogue_engine, Clause(Index.TITLE, "history of", Relation.ADJ)) == {"rec1", "rec6"}
    assert find(catalogue_engine, Clause(Index.TITLE, "of history", Relation.ADJ)) == set()
    assert find(catalogue_engine, Clause(Index.TITLE, "music history", Relation.ALL)) == {"rec6"}
    assert find(catalogue_engine, Clause(Index.TITLE, "music botanical", Relation.ANY)) == {"rec2", "rec6"}
    assert find(catalogue_engine, Clause(Index.TITLE, "journal", Relation.FIRST)) == {"rec5"}
    assert find(catalogue_engine, Clause(Index.TITLE, "library", Relation.FIRST)) == set()
    assert find(catalogue_engine, Clause(Index.TITLE, "botanical materia medica", Relation.EXACT)) == {"rec2"}
    assert find(catalogue_engine, Clause(Index.TITLE, "botanical materia", Relation.EXACT)) == set()


def test_booleans_and_proximity(catalogue_engine):
    history = Clause(Index.TITLE, "history")
    assert find(catalogue_engine, Bool(BoolOp.AND, history, Clause(Index.AUTHOR, "smith"))) == {"rec6"}
    assert find(catalogue_engine, Bool(BoolOp.NOT, history, Clause(Index.AUTHOR, "smith"))) == {"rec1", "rec5"}
    assert find(catalogue_engine, Bool(BoolOp.OR, Clause(Index.AUTHOR, "smith"), Clause(Index.AUTHOR, "aurand"))) == {"rec2", "rec6"}
    mixed = Bool(BoolOp.AND, history, Clause(Index.YEAR, "1900", Relation.GT))
    assert find(catalogue_engine, mixed) == {"rec5", "rec6"}
    near = Bool(BoolOp.PROX, Clause(Index.TITLE, "history"), Clause(Index.TITLE, "states"), Proximity(distance=4))
    assert find(catalogue_engine, near) == {"rec1"}
    far = Bool(BoolOp.PROX, Clause(Index.TITLE, "history"), Clause(Index.TITLE, "states"), Proximity(distance=1))
    assert find(catalogue_engine, far) == set()


def test_result_set_operands(catalogue_engine):
    index = open_index(catalogue_engine)
    earlier = index.search(Clause(Index.TITLE, "history"))
    query = Bool(BoolOp.AND, ResultSetRef("a"), Clause(Index.YEAR, "1900", Relation.LT))
    assert controls(catalogue_engine, index.search(query, {"a": earlier}.__getitem__)) == {"rec1"}
    with pytest.raises(QueryError) as error:
        index.search(ResultSetRef("missing"))
    assert error.value.problem is Problem.UNKNOWN_RESULT_SET


IMPOSSIBLE = [
        (Clause(Index.TITLE, "x", Relation.LT), Problem.UNSUPPORTED_RELATION),
        (Clause(Index.ANY, "x", Relation.EXACT), Problem.UNSUPPORTED_RELATION),
        (Clause(Index.YEAR, "nineteen"), Problem.TERM_FORMAT),
        (Clause(Index.TITLE, "  "), Problem.EMPTY_TERM),
]


def test_impossible_clauses_are_refused_with_a_reason(catalogue_engine):
    for query, problem in IMPOSSIBLE:
        with pytest.raises(QueryError) as error:
            open_index(catalogue_engine).search(query)
        assert error.value.problem is problem, query


def test_index_follows_edits_and_deletions(catalogue_engine):
    index = open_index(catalogue_engine)
    (rid,) = index.search(Clause(Index.CONTROL, "rec2"))
    new = marc_record("rec2", "Herbal remedies", "Aurand, Samuel", year=1905)
    with catalogue_engine.begin() as conn:
        conn.execute(update(bib_records).where(bib_records.c.id == rid).values(marc=new.as_marc()))
    index.index_record(rid)
    assert find(catalogue_engine, Clause(Index.TITLE, "herbal")) == {"rec2"}
    assert find(catalogue_engine, Clause(Index.TITLE, "botanical")) == set()
    with catalogue_engine.begin() as conn:
        conn.execute(update(bib_records).where(bib_records.c.id == rid).values(deleted=True))
    index.index_record(rid)
    assert find(catalogue_engine, Clause(Index.AUTHOR, "aurand")) == set()
    index.remove_record(index.search(Clause(Index.CONTROL, "rec6"))[0])
    assert find(catalogue_engine, Clause(Index.TITLE, "music")) == set()
    assert index.rebuild() == 5  # rec2 is deleted; rec6 comes back
    assert find(catalogue_engine, Clause(Index.TITLE, "music")) == {"rec6"}


def test_scan_lists_terms_with_counts_around_the_start(catalogue_engine):
    entries = open_index(catalogue_engine).scan(Index.TITLE, "hist", 3, 1)
    assert [(e.term, e.count) for e in entries] == [("history", 3), ("journal", 1), ("library", 1)]
    around = open_index(catalogue_engine).scan(Index.TITLE, "history", 3, 2)
    assert [e.term for e in around] == ["cho", "history", "journal"]


def test_sorting_by_title_and_year(catalogue_engine):
    index = open_index(catalogue_engine)
    ids = index.search(Clause(Index.TITLE, "history"))
    by_year = index.sorted_ids(ids, Index.YEAR, descending=True)
    assert [controls(catalogue_engine, [i]).pop() for i in by_year] == ["rec5", "rec6", "rec1"]
    by_title = index.sorted_ids(ids, Index.TITLE)
    assert [controls(catalogue_engine, [i]).pop() for i in by_title] == ["rec1", "rec5", "rec6"]


def test_broken_marc_is_skipped_not_fatal(catalogue_engine):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with catalogue_engine.begin() as conn:
        rid = conn.execute(bib_records.insert().values(library_id=1, title="x", marc=b"garbage bytes", created_at=now, updated_at=now)).inserted_primary_key[0]
    open_index(catalogue_engine).index_record(rid)
    assert rid in open_index(catalogue_engine).search(AllRecords())


def test_an_index_scoped_to_a_library_sees_only_its_records(catalogue_engine):
    assert len(open_index(catalogue_engine, library_id=1).search(AllRecords())) == 6
    assert open_index(catalogue_engine, library_id=2).search(Clause(Index.TITLE, "history")) == []


def test_count_and_page_agree_with_the_full_search(catalogue_engine):
    index = open_index(catalogue_engine)
    query = Clause(Index.TITLE, "history")
    everything = index.search(query)
    assert index.count_and_page(query, 2, 1) == (3, everything[1:2])
    assert index.count_and_page(query, 9, 5) == (3, [])
    assert index.count_and_page(query, 1, 0) == (3, [])


def fts_segments(engine) -> int | None:
    """How many FTS5 segments the SQLite index holds (None on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(DISTINCT segid) FROM search_fts_idx").scalar_one()


def test_merging_the_index_keeps_every_answer(catalogue_engine):
    index = open_index(catalogue_engine)
    with catalogue_engine.connect() as conn:
        record_ids = conn.scalars(bib_records.select().with_only_columns(bib_records.c.id)).all()
    for record_id in record_ids:  # one transaction each: one small piece of index each
        index.index_record(record_id)
    before = [find(catalogue_engine, query) for query, _ in EACH_INDEX]
    segments = fts_segments(catalogue_engine)

    assert index.merge_segments() >= 0

    assert [find(catalogue_engine, query) for query, _ in EACH_INDEX] == before
    if segments is not None:
        assert segments > 1
        assert fts_segments(catalogue_engine) == 1
