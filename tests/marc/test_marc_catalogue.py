from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from ils_bridge.services.catalogue import BibEntry, Catalogue, CatalogueError, Item
from ils_bridge.storage.schema import bib_records, items, record_keys


def entry(n: int, **changes) -> BibEntry:
    values = dict(marc=b"raw%d" % n, title=f"Title {n}", control_number=f"c{n}", keys=[("control", f"c{n}")])
    values.update(changes)
    return BibEntry(**values)


def item(barcode: str, **changes) -> Item:
    return Item(barcode=barcode, material="book", **changes)


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))


def test_unknown_library_is_refused(engine):
    with pytest.raises(CatalogueError):
        Catalogue(engine, 99)


def test_add_and_read_back_with_items(catalogue):
    record_id = catalogue.add(
        entry(1, pub_year=2022, language="chi"), [item("B1", price=Decimal("89.00"), currency="CNY")]
    )
    stored = catalogue.get(record_id)
    assert (stored.title, stored.pub_year, stored.language, stored.marc) == ("Title 1", 2022, "chi", b"raw1")
    assert catalogue.items_of(record_id) == [item("B1", price=Decimal("89.00"), currency="CNY")]
    assert catalogue.find_match([("isbn", "x"), ("control", "c1")]) == record_id
    assert catalogue.find_match([("control", "nope")]) is None


def test_vnd_price_stored_in_whole_dong(catalogue, engine):
    record_id = catalogue.add(entry(1), [item("B1", price=Decimal("120000"), currency="VND")])
    with engine.connect() as conn:
        assert conn.execute(sa.select(items.c.price_minor, items.c.currency)).one() == (120000, "VND")
    assert catalogue.items_of(record_id)[0].price == Decimal("120000")


def test_a_refused_record_leaves_nothing_and_the_batch_goes_on(catalogue, engine):
    with catalogue.batch() as batch:
        first = batch.add(entry(1), [item("B1")])
        with pytest.raises(CatalogueError, match="B1 already belongs"):
            batch.add(entry(2), [item("B2"), item("B1")])
        with pytest.raises(CatalogueError, match="twice"):
            batch.add(entry(3), [item("B3"), item("B3")])
        batch.add(entry(4), [item("B4")])
    assert count(engine, bib_records) == 2
    assert count(engine, items) == 2
    assert count(engine, record_keys) == 2
    assert catalogue.find_match([("control", "c2")]) is None
    assert catalogue.items_of(first) == [item("B1")]


def test_replace_updates_record_and_items_but_keeps_circulation_state(catalogue, engine, clock):
    record_id = catalogue.add(entry(1), [item("B1", branch="MAIN")])
    with engine.begin() as conn:
        conn.execute(items.update().values(status="checked_out", times_loaned=3))
    clock.advance(days=1)
    change = catalogue.replace(
        record_id,
        entry(1, title="New title", keys=[("isbn", "9787111544937")]),
        [item("B1", branch="EAST"), item("B2")],
    )
    assert (change.added, change.updated) == (1, 1)
    stored = catalogue.get(record_id)
    assert stored.title == "New title" and stored.updated_at == clock.now
    assert catalogue.find_match([("control", "c1")]) is None
    assert catalogue.find_match([("isbn", "9787111544937")]) == record_id
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(items.c.barcode, items.c.branch, items.c.status, items.c.times_loaned).order_by(items.c.barcode)
        ).all()
    assert rows == [("B1", "EAST", "checked_out", 3), ("B2", None, "available", 0)]


def test_merge_holdings_keeps_the_bib(catalogue):
    record_id = catalogue.add(entry(1), [item("B1")])
    change = catalogue.merge_holdings(record_id, [item("B2")])
    assert (change.added, change.updated) == (1, 0)
    assert catalogue.get(record_id).marc == b"raw1"
    assert [i.barcode for i in catalogue.items_of(record_id)] == ["B1", "B2"]


def test_writes_to_a_missing_record_are_refused(catalogue):
    with pytest.raises(CatalogueError):
        catalogue.merge_holdings(42, [item("B1")])
    with pytest.raises(CatalogueError):
        catalogue.mark_deleted(42)


def test_deleted_and_changed_since(catalogue, clock):
    ids = [catalogue.add(entry(n)) for n in range(5)]
    since = clock.advance(hours=1)
    catalogue.mark_deleted(ids[1])
    catalogue.replace(ids[3], entry(3, title="changed"))
    assert catalogue.changed_since(since) == [ids[1], ids[3]]
    assert [r.id for r in catalogue.iter_records(since=since)] == [ids[3]]
    assert [r.id for r in catalogue.iter_records(since=since, include_deleted=True)] == [ids[1], ids[3]]
    assert catalogue.get(ids[1]).deleted
    assert [r.id for r in catalogue.iter_records()] == [ids[0], ids[2], ids[3], ids[4]]
    assert [r.id for r in catalogue.iter_records(record_ids=[ids[4], ids[0]])] == [ids[0], ids[4]]


def test_iteration_pages_through_everything(catalogue):
    ids = [catalogue.add(entry(n), [item(f"B{n}")]) for n in range(7)]
    listed = list(catalogue.iter_records(page_size=3))
    assert [r.id for r in listed] == ids
    assert [r.items[0].barcode for r in listed] == [f"B{n}" for n in range(7)]


def test_dry_run_batch_rolls_back(catalogue, engine):
    with catalogue.batch(dry_run=True) as batch:
        batch.add(entry(1))
        assert batch.find_match([("control", "c1")]) is not None
    assert count(engine, bib_records) == 0


def test_libraries_are_separate(engine, catalogue):
    catalogue.add(entry(1), [item("B1")])
    other = Catalogue(engine, 2)
    assert other.find_match([("control", "c1")]) is None
    assert other.add(entry(1), [item("B1")])  # same barcode in another library is fine


def test_find_match_pairs_kind_and_value_exactly(catalogue):
    isbn_holder = catalogue.add(entry(1, keys=[("isbn", "9787111544937"), ("control", "c1")]))
    assert catalogue.find_match([("control", "9787111544937"), ("isbn", "c1")]) is None
    assert catalogue.find_match([("control", "zz"), ("isbn", "9787111544937")]) == isbn_holder


def test_find_match_prefers_the_stronger_key_and_live_records(catalogue):
    by_isbn = catalogue.add(entry(1, keys=[("isbn", "9787111544937")]))
    by_control = catalogue.add(entry(2, keys=[("control", "c2")]))
    assert catalogue.find_match([("control", "c2"), ("isbn", "9787111544937")]) == by_control
    deleted_twin = catalogue.add(entry(3, keys=[("issn", "0378-5955")]))
    live_twin = catalogue.add(entry(4, keys=[("issn", "0378-5955")]))
    catalogue.mark_deleted(deleted_twin)
    assert catalogue.find_match([("issn", "0378-5955")]) == live_twin
    assert by_isbn != by_control


def test_add_many_refuses_what_add_refuses_and_stores_the_rest(catalogue, engine):
    stored = catalogue.add(entry(0), [item("B0")])
    with catalogue.batch() as batch:
        outcomes = batch.add_many(
            [
                (entry(1), [item("B1")]),
                (entry(2), [item("B0")]),  # held by a stored record
                (entry(3), [item("B3"), item("B3")]),  # twice in one record
                (entry(4), [item("B1")]),  # held by an earlier record of the same call
                (entry(5, title=None), [item("B5")]),  # refused by the database (title NOT NULL)
                (entry(6), [item("B6"), item("B7")]),
            ]
        )
    first, last = outcomes[0], outcomes[5]
    assert isinstance(first, int) and isinstance(last, int)
    assert [str(o) for o in outcomes[1:4]] == [
        f"barcode B0 already belongs to record {stored}",
        "barcode B3 appears twice in the record",
        f"barcode B1 already belongs to record {first}",
    ]
    assert isinstance(outcomes[4], CatalogueError) and "the database refused the record" in str(outcomes[4])
    assert [i.barcode for i in catalogue.items_of(last)] == ["B6", "B7"]
    assert catalogue.find_match([("control", "c6")]) == last
    assert count(engine, bib_records) == 3 and count(engine, items) == 4 and count(engine, record_keys) == 3


def test_find_matches_answers_as_find_match_does_for_each(catalogue):
    ids = [catalogue.add(entry(n, keys=[("control", f"c{n}"), ("isbn", f"i{n % 2}")])) for n in range(3)]
    catalogue.mark_deleted(ids[0])
    key_lists = [[("isbn", "i0")], [("control", "c1"), ("isbn", "i0")], [("control", "none")], [], [("isbn", "i1")]]
    with catalogue.batch() as batch:
        assert batch.find_matches(key_lists) == [batch.find_match(keys) for keys in key_lists]
        assert batch.find_matches(key_lists) == [ids[2], ids[1], None, None, ids[1]]
