"""The catalogue: bibliographic records, their match points and their items.

Writes are grouped in a ``CatalogueBatch`` (one database transaction for many
records, for import speed); inside it every record is its own savepoint, so
a record either fully lands with its keys and items or leaves nothing behind.

    catalogue = Catalogue(engine, library_id)
    with catalogue.batch() as batch:
        record_id = batch.find_match(keys) or batch.add(entry, items)

The catalogue knows nothing of MARC: callers (``marc/``) hand it the record
already serialised (UTF-8 ISO 2709 without holdings) with its searchable
columns and match keys.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError

from ils_bridge import money
from ils_bridge.storage.prepared import Prepared
from ils_bridge.storage.schema import bib_records, items, libraries, record_keys

Clock = Callable[[], dt.datetime]
RecordsHook = Callable[[Connection, Sequence[int], Mapping[int, object]], None]

# Called with the ids of the records a transaction added, replaced or deleted,
# and the decoded form of those the writer had at hand (``BibEntry.parsed``),
# inside that transaction before it commits ("module:function", imported on
# first use, as storage.migrate names its table modules).  The search index
# keeps itself current this way, so a record is searchable once it commits.
RECORD_HOOKS = ("marc.search.upkeep:reindex_changed",)


def records_changed(
    conn: Connection, record_ids: Sequence[int], parsed: Mapping[int, object] | None = None
) -> None:
    """Run the record hooks for records written in ``conn``'s open transaction."""
    if record_ids:
        for hook in _record_hooks():
            hook(conn, record_ids, parsed or {})


@functools.cache
def _record_hooks() -> tuple[RecordsHook, ...]:
    hooks = []
    for spec in RECORD_HOOKS:
        module, _, name = spec.partition(":")
        hooks.append(getattr(importlib.import_module(module), name))
    return tuple(hooks)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CatalogueError(ValueError):
    """A write the catalogue refuses; the record it concerns is left unchanged."""


@dataclass(frozen=True)
class BibEntry:
    """A bibliographic record ready to store."""

    marc: bytes  # ISO 2709, UTF-8, without holdings fields
    title: str
    author: str | None = None
    pub_year: int | None = None
    language: str | None = None
    control_number: str | None = None
    control_source: str | None = None
    keys: Sequence[tuple[str, str]] = ()  # (kind, value): control | system | isbn | issn
    # The caller's decoded form of ``marc`` (for MARC, the pymarc record), handed to the
    # record hooks so that they need not decode the bytes again; the catalogue never reads it.
    parsed: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Item:
    """An item's catalogue attributes (what import sets; circulation state is left alone)."""

    barcode: str
    material: str
    collection: str | None = None
    language: str | None = None
    classification: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    pub_year: int | None = None
    branch: str | None = None
    location: str | None = None
    call_number: str | None = None
    copy_number: str | None = None
    volume: str | None = None


@dataclass(frozen=True)
class StoredRecord:
    id: int
    marc: bytes
    title: str
    author: str | None
    pub_year: int | None
    language: str | None
    control_number: str | None
    control_source: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted: bool
    items: list[Item] = field(default_factory=list)


@dataclass(frozen=True)
class HoldingsChange:
    added: int
    updated: int


_ITEM_COLUMNS = tuple(name for name in Item.__dataclass_fields__ if name not in ("price", "currency"))
_BIB_COLUMNS = (
    "marc",
    "title",
    "author",
    "pub_year",
    "language",
    "control_number",
    "control_source",
)


# Statements built once: an import runs them for every record.
_INSERT_BIB = insert(bib_records)
_INSERT_BIBS_RETURNING_IDS = insert(bib_records).returning(bib_records.c.id, sort_by_parameter_order=True)
_KEYS_PER_QUERY = 500  # values bound in one IN (...): well under SQLite's limit on parameters
_NEWEST_BIB_IDS = select(bib_records.c.id).order_by(bib_records.c.id.desc()).limit(bindparam("count"))
_FIND_KEYS = (
    select(record_keys.c.kind, record_keys.c.value, record_keys.c.record_id, bib_records.c.deleted)
    .join(bib_records, bib_records.c.id == record_keys.c.record_id)
    .where(
        record_keys.c.library_id == bindparam("library_id"),
        record_keys.c.kind.in_(bindparam("kinds", expanding=True)),
        record_keys.c.value.in_(bindparam("values", expanding=True)),
    )
)
_BARCODE_HOLDERS = select(items.c.barcode, items.c.bib_id).where(
    items.c.library_id == bindparam("library_id"), items.c.barcode.in_(bindparam("barcodes", expanding=True))
)
_BARCODES_OF_RECORD = select(items.c.barcode).where(items.c.bib_id == bindparam("bib_id"))


class Catalogue:
    """The catalogue of one library."""

    def __init__(self, engine: Engine, library_id: int, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.library_id = library_id
        self.clock = clock
        with engine.connect() as conn:
            currency = conn.scalar(select(libraries.c.currency).where(libraries.c.id == library_id))
        if currency is None:
            raise CatalogueError(f"no library with id {library_id}")
        self.currency: str = currency

    @contextmanager
    def batch(self, dry_run: bool = False) -> Iterator[CatalogueBatch]:
        """One transaction for many record writes; committed when the block ends without error.

        A dry run does every write (so later records see earlier ones) and rolls all back.
        """
        with self.engine.connect() as conn:
            transaction = conn.begin()
            if conn.dialect.name == "sqlite":
                _open_sqlite_transaction(conn)
            try:
                batch = CatalogueBatch(conn, self.library_id, self.clock)
                yield batch
                if not dry_run:
                    records_changed(conn, batch.changed, batch.parsed)
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()

    # one-transaction conveniences -------------------------------------------------

    def find_match(self, keys: Iterable[tuple[str, str]]) -> int | None:
        with self.batch() as batch:
            return batch.find_match(keys)

    def add(self, entry: BibEntry, items_: Sequence[Item] = ()) -> int:
        with self.batch() as batch:
            return batch.add(entry, items_)

    def replace(self, record_id: int, entry: BibEntry, items_: Sequence[Item] = ()) -> HoldingsChange:
        with self.batch() as batch:
            return batch.replace(record_id, entry, items_)

    def merge_holdings(self, record_id: int, items_: Sequence[Item]) -> HoldingsChange:
        with self.batch() as batch:
            return batch.merge_holdings(record_id, items_)

    def mark_deleted(self, record_id: int) -> None:
        with self.batch() as batch:
            batch.mark_deleted(record_id)

    # reads ---------------------------------------------------------------------------

    def get(self, record_id: int) -> StoredRecord | None:
        found = list(self.iter_records(record_ids=[record_id], include_deleted=True))
        return found[0] if found else None

    def items_of(self, record_id: int) -> list[Item]:
        with self.engine.connect() as conn:
            return _items_by_record(conn, [record_id]).get(record_id, [])

    def iter_records(
        self,
        since: dt.datetime | None = None,
        record_ids: Iterable[int] | None = None,
        include_deleted: bool = False,
        page_size: int = 500,
    ) -> Iterator[StoredRecord]:
        """Records (with items) changed at or after ``since``, in id order, a page at a time.

        Memory stays bounded by the page size whatever the catalogue's size.
        """
        conditions = [bib_records.c.library_id == self.library_id]
        if since is not None:
            conditions.append(bib_records.c.updated_at >= since)
        if record_ids is not None:
            conditions.append(bib_records.c.id.in_(list(record_ids)))
        if not include_deleted:
            conditions.append(bib_records.c.deleted.is_(False))
        last_id = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(bib_records)
                    .where(and_(*conditions, bib_records.c.id > last_id))
                    .order_by(bib_records.c.id)
                    .limit(page_size)
                ).all()
                item_map = _items_by_record(conn, [row.id for row in rows])
            for row in rows:
                yield _stored(row, item_map.get(row.id, []))
            if len(rows) < page_size:
                return
            last_id = rows[-1].id

    def changed_since(self, since: dt.datetime, include_deleted: bool = True) -> list[int]:
        """Ids of the records changed at or after ``since`` (deleted ones too, by default)."""
        conditions = [bib_records.c.library_id == self.library_id, bib_records.c.updated_at >= since]
        if not include_deleted:
            conditions.append(bib_records.c.deleted.is_(False))
        with self.engine.connect() as conn:
            return list(conn.scalars(select(bib_records.c.id).where(*conditions).order_by(bib_records.c.id)))


class CatalogueBatch:
    """Record writes inside one open transaction; each write is all-or-nothing."""

    def __init__(self, conn: Connection, library_id: int, clock: Clock) -> None:
        self.conn = conn
        self.library_id = library_id
        self.clock = clock
        self.changed: list[int] = []  # records added, replaced or deleted (for the record hooks)
        self.parsed: dict[int, object] = {}  # their BibEntry.parsed, where given

    def find_match(self, keys: Iterable[tuple[str, str]]) -> int | None:
        """The record holding the first key that matches (keys are tried in the order given).

        A live record wins over a deleted one holding the same key.
        """
        return self.find_matches([keys])[0]

    def find_matches(self, key_lists: Sequence[Iterable[tuple[str, str]]]) -> list[int | None]:
        """``find_match`` for many records at once, in one query per few hundred keys."""
        key_lists = [list(dict.fromkeys(keys)) for keys in key_lists]
        wanted = list(dict.fromkeys(key for keys in key_lists for key in keys))
        holders: dict[tuple[str, str], tuple[bool, int]] = {}
        for start in range(0, len(wanted), _KEYS_PER_QUERY):
            chunk = wanted[start : start + _KEYS_PER_QUERY]
            rows = self.conn.execute(
                _FIND_KEYS,
                {"library_id": self.library_id, "kinds": list({k for k, _ in chunk}), "values": list({v for _, v in chunk})},
            )
            for row in rows:  # kind IN / value IN (which the index serves) may pair them wrongly: keep exact pairs
                candidate = (row.deleted, row.record_id)
                holders[(row.kind, row.value)] = min(holders.get((row.kind, row.value), candidate), candidate)
        return [next((holders[key][1] for key in keys if key in holders), None) for keys in key_lists]

    def add_many(self, records: Sequence[tuple[BibEntry, Sequence[Item]]]) -> list[int | CatalogueError]:
        """``add`` for many records in a few statements: for each, its new id or why it was refused.

        Refusals are the same as ``add``'s, and a refused record leaves nothing
        behind while the others land.  A record whose barcode an earlier one in
        the list also carries is added on its own, after the earlier ones, so
        that it is refused exactly as ``add`` would refuse it.
        """
        outcomes: list[int | CatalogueError | None] = [None] * len(records)
        held = self._barcode_holders([item.barcode for _, items_ in records for item in items_])
        staged: list[int] = []  # positions checked and waiting to be inserted together
        staged_barcodes: set[str] = set()

        def insert_staged() -> None:
            ids = self._insert_staged([records[position] for position in staged])
            for position, outcome in zip(staged, ids):
                outcomes[position] = outcome
            staged.clear()
            staged_barcodes.clear()

        for position, (entry, items_) in enumerate(records):
            barcodes = [item.barcode for item in items_]
            problem = _repeated_barcode(barcodes) or next(
                (f"barcode {b} already belongs to record {held[b]}" for b in barcodes if b in held), None
            )
            if problem:
                outcomes[position] = CatalogueError(problem)
            elif staged_barcodes.intersection(barcodes):
                insert_staged()
                outcomes[position] = self._add_alone(entry, items_)
            else:
                staged.append(position)
                staged_barcodes.update(barcodes)
        insert_staged()
        return outcomes  # type: ignore[return-value]  # every position is filled by now

    def add(self, entry: BibEntry, items_: Sequence[Item] = ()) -> int:
        with self._unit():
            self._check_barcodes(None, items_)
            now = self.clock()
            record_id = self.conn.execute(_INSERT_BIB, self._new_bib_values(entry, now)).inserted_primary_key[0]
            self._write_keys(record_id, entry.keys)
            self._insert_items(record_id, items_, now)
        self._changed(record_id, entry)
        return record_id

    def replace(self, record_id: int, entry: BibEntry, items_: Sequence[Item] = ()) -> HoldingsChange:
        """Replace the bibliographic record (undeleting it) and add or update the given items.

        Items already stored but absent from ``items_`` are kept: they may be on loan.
        """
        with self._unit():
            self._require(record_id)
            self._check_barcodes(record_id, items_)
            now = self.clock()
            self.conn.execute(
                update(bib_records)
                .where(bib_records.c.id == record_id)
                .values(updated_at=now, deleted=False, **_bib_values(entry))
            )
            self.conn.execute(delete(record_keys).where(record_keys.c.record_id == record_id))
            self._write_keys(record_id, entry.keys)
            change = self._upsert_items(record_id, items_, now)
        self._changed(record_id, entry)
        return change

    def merge_holdings(self, record_id: int, items_: Sequence[Item]) -> HoldingsChange:
        """Add new items and update known ones; the bibliographic record stays as it is."""
        with self._unit():
            self._require(record_id)
            self._check_barcodes(record_id, items_)
            now = self.clock()
            change = self._upsert_items(record_id, items_, now)
            if change.added or change.updated:
                self.conn.execute(update(bib_records).where(bib_records.c.id == record_id).values(updated_at=now))
            return change

    def mark_deleted(self, record_id: int) -> None:
        with self._unit():
            self._require(record_id)
            self.conn.execute(
                update(bib_records).where(bib_records.c.id == record_id).values(deleted=True, updated_at=self.clock())
            )
        self._changed(record_id, None)

    # helpers ---------------------------------------------------------------------------

    def _insert_staged(self, staged: list[tuple[BibEntry, Sequence[Item]]]) -> list[int | CatalogueError]:
        """Insert records already checked, one statement per table; one at a time if the database refuses one."""
        if not staged:
            return []
        try:
            with self._unit():
                now = self.clock()
                record_ids = self._insert_bibs([self._new_bib_values(entry, now) for entry, _ in staged])
                self._write_keys_of(zip(record_ids, (entry.keys for entry, _ in staged)))
                self._insert_items_of(zip(record_ids, (items_ for _, items_ in staged)), now)
        except CatalogueError:  # which record is refused, and why: as add() would say
            return [self._add_alone(entry, items_) for entry, items_ in staged]
        for record_id, (entry, _) in zip(record_ids, staged):
            self._changed(record_id, entry)
        return record_ids

    def _insert_bibs(self, rows: list[dict[str, object]]) -> list[int]:
        """Insert bibliographic rows; their new ids, in the rows' order.

        SQLAlchemy returns ids in order from one statement on PostgreSQL, but
        on SQLite it sends a statement per row for that.  There, one
        ``executemany`` goes through the driver instead, and the ids are the
        newest ones: SQLite gives each new row the highest id plus one, and
        this transaction holds the database's only write lock from its first
        insert to its commit, so no other row can come between."""
        if self.conn.dialect.name != "sqlite":
            return list(self.conn.scalars(_INSERT_BIBS_RETURNING_IDS, rows))
        _insert_rows(self.conn, bib_records, rows)
        newest = self.conn.scalars(_NEWEST_BIB_IDS, {"count": len(rows)}).all()
        return newest[::-1]

    def _add_alone(self, entry: BibEntry, items_: Sequence[Item]) -> int | CatalogueError:
        try:
            return self.add(entry, items_)
        except CatalogueError as exc:
            return exc

    def _new_bib_values(self, entry: BibEntry, now: dt.datetime) -> dict[str, object]:
        return {
            "library_id": self.library_id,
            "created_at": now,
            "updated_at": now,
            "deleted": False,
            **_bib_values(entry),
        }

    def _changed(self, record_id: int, entry: BibEntry | None) -> None:
        self.changed.append(record_id)
        if entry is not None and entry.parsed is not None:
            self.parsed[record_id] = entry.parsed
        else:
            self.parsed.pop(record_id, None)

    @contextmanager
    def _unit(self) -> Iterator[None]:
        """A savepoint: the record's writes land together or not at all."""
        try:
            with self.conn.begin_nested():
                yield
        except (IntegrityError, DataError) as exc:
            raise CatalogueError(f"the database refused the record: {exc.orig}") from exc

    def _require(self, record_id: int) -> None:
        exists = self.conn.scalar(
            select(bib_records.c.id).where(bib_records.c.id == record_id, bib_records.c.library_id == self.library_id)
        )
        if exists is None:
            raise CatalogueError(f"no record {record_id} in this library")

    def _check_barcodes(self, record_id: int | None, items_: Sequence[Item]) -> None:
        barcodes = [item.barcode for item in items_]
        repeated = _repeated_barcode(barcodes)
        if repeated:
            raise CatalogueError(repeated)
        for barcode, holder in self._barcode_holders(barcodes).items():
            if holder != record_id:
                raise CatalogueError(f"barcode {barcode} already belongs to record {holder}")

    def _barcode_holders(self, barcodes: Sequence[str]) -> dict[str, int]:
        """Which stored record holds each of these barcodes (those no record holds are left out)."""
        holders: dict[str, int] = {}
        for start in range(0, len(barcodes), _KEYS_PER_QUERY):
            chunk = barcodes[start : start + _KEYS_PER_QUERY]
            holders.update(self.conn.execute(_BARCODE_HOLDERS, {"library_id": self.library_id, "barcodes": chunk}).all())
        return holders

    def _write_keys(self, record_id: int, keys: Sequence[tuple[str, str]]) -> None:
        self._write_keys_of([(record_id, keys)])

    def _write_keys_of(self, records: Iterable[tuple[int, Sequence[tuple[str, str]]]]) -> None:
        rows = [
            {"record_id": record_id, "library_id": self.library_id, "kind": kind, "value": value}
            for record_id, keys in records
            for kind, value in dict.fromkeys(keys)
        ]
        if rows:
            _insert_rows(self.conn, record_keys, rows)

    def _upsert_items(self, record_id: int, items_: Sequence[Item], now: dt.datetime) -> HoldingsChange:
        known = set(self.conn.scalars(_BARCODES_OF_RECORD, {"bib_id": record_id}))
        new = [item for item in items_ if item.barcode not in known]
        self._insert_items(record_id, new, now)
        for item in items_:
            if item.barcode in known:
                self.conn.execute(
                    update(items)
                    .where(items.c.library_id == self.library_id, items.c.barcode == item.barcode)
                    .values(**_item_values(item), updated_at=now)
                )
        return HoldingsChange(added=len(new), updated=len(items_) - len(new))

    def _insert_items(self, record_id: int, items_: Sequence[Item], now: dt.datetime) -> None:
        self._insert_items_of([(record_id, items_)], now)

    def _insert_items_of(self, records: Iterable[tuple[int, Sequence[Item]]], now: dt.datetime) -> None:
        rows = [
            {
                **_item_values(item),
                "library_id": self.library_id,
                "bib_id": record_id,
                "status": "available",
                "created_at": now,
                "updated_at": now,
            }
            for record_id, items_ in records
            for item in items_
        ]
        if rows:
            _insert_rows(self.conn, items, rows)


def _insert_rows(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """INSERT many rows (dicts with the same keys) in one ``executemany`` of the DB-API driver: SQLAlchemy's
    per-row work is skipped, the columns' own conversions are still applied (``Prepared.run_many``)."""
    _bulk_insert(table, tuple(rows[0])).run_many(conn, rows)


@functools.cache
def _bulk_insert(table: Table, columns: tuple[str, ...]) -> Prepared:
    """The INSERT of ``columns`` into ``table``, compiled once per dialect."""
    return Prepared(insert(table).values({name: bindparam(name) for name in columns}))


def _open_sqlite_transaction(conn: Connection) -> None:
    """Make SQLite's transaction real before the first savepoint.

    The sqlite3 driver opens its transaction lazily, at the first write; a
    SAVEPOINT issued before that starts (and its release commits) a
    transaction of its own, so every record would commit alone and a dry run
    could not roll back.  Engines that already emit BEGIN are left alone.
    """
    if not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")


def _repeated_barcode(barcodes: Sequence[str]) -> str | None:
    """Why a record's barcodes cannot be stored together, or None."""
    repeated = sorted(barcode for barcode, count in Counter(barcodes).items() if count > 1)
    return f"barcode {repeated[0]} appears twice in the record" if repeated else None


def _bib_values(entry: BibEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in _BIB_COLUMNS}


def _item_values(item: Item) -> dict[str, object]:
    values = {name: getattr(item, name) for name in _ITEM_COLUMNS}
    if item.price is not None and item.currency:
        values["price_minor"] = money.to_minor(
            money.round_to(item.price, money.currency(item.currency)), money.currency(item.currency)
        )
        values["currency"] = item.currency
    else:
        values["price_minor"] = values["currency"] = None
    return values


def _items_by_record(conn: Connection, record_ids: list[int]) -> dict[int, list[Item]]:
    found: dict[int, list[Item]] = {}
    if not record_ids:
        return found
    rows = conn.execute(select(items).where(items.c.bib_id.in_(record_ids)).order_by(items.c.id))
    for row in rows:
        price = (
            money.from_minor(row.price_minor, money.currency(row.currency))
            if row.price_minor is not None and row.currency
            else None
        )
        item = Item(**{name: getattr(row, name) for name in _ITEM_COLUMNS}, price=price, currency=row.currency)
        found.setdefault(row.bib_id, []).append(item)
    return found


def _stored(row: object, record_items: list[Item]) -> StoredRecord:
    names = ("id", "created_at", "updated_at", "deleted") + _BIB_COLUMNS
    return StoredRecord(**{name: getattr(row, name) for name in names}, items=record_items)
