"""Result sets counted at search time and paged on demand agree with the
full search, on both backends, whether they fit the first page or not."""

from __future__ import annotations

import pytest

from marc.search import AllRecords, Bool, BoolOp, Clause, Index, ResultSetRef, open_index
from marc.search import result_set
from marc.search.result_set import ResultSet, fetch_records


@pytest.fixture(params=[2, 64], ids=["paged", "whole"])
def first_page(request, monkeypatch) -> int:
    """A first page smaller than the test catalogue's result sets, or larger."""
    monkeypatch.setattr(result_set, "FIRST_PAGE", request.param)
    return request.param


def test_count_and_pages_match_the_full_search(catalogue_engine, first_page):
    index = open_index(catalogue_engine)
    everything = index.search(AllRecords())
    hits = ResultSet.search(index, AllRecords())
    assert len(hits) == len(everything) == 6
    assert [hits.page(start, 2) for start in (1, 2, 3, 5, 6)] == [everything[s - 1 : s + 1] for s in (1, 2, 3, 5, 6)]
    assert hits.page(4, 10) == everything[3:]
    assert hits.page(7, 5) == hits.page(3, 0) == []
    assert hits.ids() == everything


def test_an_empty_search_and_a_small_one(catalogue_engine, first_page):
    index = open_index(catalogue_engine)
    assert len(ResultSet.search(index, Clause(Index.TITLE, "nosuchword"))) == 0
    history = ResultSet.search(index, Clause(Index.TITLE, "history"))
    assert history.ids() == index.search(Clause(Index.TITLE, "history"))
    assert len(history) == 3


def test_a_query_over_an_earlier_set_uses_all_its_hits(catalogue_engine, first_page):
    index = open_index(catalogue_engine)
    sets = {"all": ResultSet.search(index, AllRecords())}
    query = Bool(BoolOp.AND, ResultSetRef("all"), Clause(Index.TITLE, "history"))
    combined = ResultSet.search(index, query, lambda name: sets[name].ids())
    assert combined.ids() == index.search(Clause(Index.TITLE, "history"))


def test_a_library_scoped_index_pages_only_its_records(catalogue_engine, first_page):
    assert len(ResultSet.search(open_index(catalogue_engine, library_id=2), AllRecords())) == 0
    assert len(ResultSet.search(open_index(catalogue_engine, library_id=1), AllRecords())) == 6


def test_fetch_records_gives_the_stored_bytes(catalogue_engine):
    index = open_index(catalogue_engine)
    ids = index.search(AllRecords())
    assert fetch_records(index, ids[:3]) == index.records(ids[:3])
    assert fetch_records(index, []) == {}
