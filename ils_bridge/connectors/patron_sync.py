"""Patron sync: read patrons and cards from the host's JSON endpoint and apply them to the database.

The host side (this module): paging in one of three styles, a field mapping
from the host's JSON keys to patron columns, "changed since" for incremental
runs.  The database side lives in :mod:`ils_bridge.connectors.patron_store`.

Settings (``connectors.patron_sync``, besides the endpoint keys in
:mod:`ils_bridge.connectors.config`)::

    path: /patrons
    changed_since_param: changed_since   # query parameter of incremental runs (ISO 8601 instant)
    absent_means_left: false             # on a full run, treat synced patrons the host no longer lists as left
    date_format: "%Y-%m-%d"              # how the host writes the card validity date
    paging:
      style: page                        # page | next_link | cursor
      items_key: items                   # dotted path of the record list in each page
      page_param: page                   # page: page number parameter, first_page (default 1)
      size_param: page_size              # page and cursor: page size parameter, page_size (default 100)
      next_key: next                     # next_link: path of the next URL; cursor: path of the next cursor
      cursor_param: cursor               # cursor: parameter that carries the cursor
      total_key: total                   # optional: path of the total record count (for progress)
    fields:                              # dotted paths in one record
      number: student_id                 # required: the permanent patron number
      name: name                         # required
      patron_type: {key: category, values: {UG: undergraduate, PG: postgraduate}, default: null}
      patron_group: {key: dept, values: {}}
      card_number: card.no
      card_valid_until: card.valid_to
      email: mail
      phone: mobile
      language: lang
      field: discipline
      external_id: uid
      left: {key: status, values: [graduated, withdrawn]}   # a record with one of these values has left
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ils_bridge.connectors import patron_store
from ils_bridge.connectors.checks import CheckResult, run_check
from ils_bridge.connectors.config import ConnectorConfigError, read_bool, read_int, read_str
from ils_bridge.connectors.http import ConnectorError, ConnectorProtocolError, HttpClient
from ils_bridge.connectors.json_fields import MISSING, lookup
from ils_bridge.connectors.patron_store import UpstreamCard, UpstreamPatron

PAGING_STYLES = ("page", "next_link", "cursor")
OPTIONAL_TEXT_FIELDS = ("email", "phone", "language", "field", "external_id")

Progress = Callable[[int, int | None], None]
"""Called after each record with (records processed, total if the host says, else None)."""


class MappingError(ValueError):
    """One upstream record cannot be mapped (missing number, unknown patron type...)."""


@dataclass(frozen=True)
class ValueField:
    """A value read from ``key`` and translated through ``values``; unmapped values fall back to ``default``."""

    key: str
    values: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    @classmethod
    def parse(cls, name: str, setting: Any) -> ValueField:
        if isinstance(setting, str):
            return cls(setting)
        if isinstance(setting, Mapping) and "key" in setting:
            values = {str(k): str(v) for k, v in (setting.get("values") or {}).items()}
            default = setting.get("default")
            return cls(str(setting["key"]), values, None if default is None else str(default))
        raise ConnectorConfigError(f"fields.{name} must be a key or {{key, values, default}}")

    def read(self, record: Mapping[str, Any], name: str) -> Any:
        raw = lookup(record, self.key)
        if raw is MISSING or raw is None or not self.values:
            return raw
        if str(raw) in self.values:
            return self.values[str(raw)]
        if self.default is not None:
            return self.default
        raise MappingError(f"{name} value {raw!r} is not in the value map")


@dataclass(frozen=True)
class FieldMapping:
    number: str
    name: str
    patron_type: ValueField
    patron_group: ValueField | None = None
    card_number: str | None = None
    card_valid_until: str | None = None
    optional: Mapping[str, str] = field(default_factory=dict)  # patron column -> key, for OPTIONAL_TEXT_FIELDS
    left_key: str | None = None
    left_values: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, fields: Mapping[str, Any]) -> FieldMapping:
        left = fields.get("left") or {}
        if left and not (isinstance(left, Mapping) and "key" in left):
            raise ConnectorConfigError("fields.left must be {key, values}")
        return cls(
            number=read_str(fields, "number"),
            name=read_str(fields, "name"),
            patron_type=ValueField.parse("patron_type", fields.get("patron_type")),
            patron_group=ValueField.parse("patron_group", fields["patron_group"])
            if fields.get("patron_group")
            else None,
            card_number=fields.get("card_number"),
            card_valid_until=fields.get("card_valid_until"),
            optional={name: str(fields[name]) for name in OPTIONAL_TEXT_FIELDS if fields.get(name)},
            left_key=left.get("key") if left else None,
            left_values=frozenset(str(v) for v in left.get("values", ())) if left else frozenset(),
        )


@dataclass(frozen=True)
class Paging:
    style: str = "page"
    items_key: str = "items"
    page_param: str = "page"
    first_page: int = 1
    size_param: str = "page_size"
    page_size: int = 100
    next_key: str = "next"
    cursor_param: str = "cursor"
    total_key: str | None = None

    @classmethod
    def parse(cls, paging: Mapping[str, Any]) -> Paging:
        style = str(paging.get("style", "page"))
        if style not in PAGING_STYLES:
            raise ConnectorConfigError(f"paging.style must be one of {', '.join(PAGING_STYLES)}, not {style!r}")
        defaults = cls()
        return cls(
            style=style,
            items_key=str(paging.get("items_key", defaults.items_key)),
            page_param=str(paging.get("page_param", defaults.page_param)),
            first_page=read_int(paging, "first_page", defaults.first_page),
            size_param=str(paging.get("size_param", defaults.size_param)),
            page_size=read_int(paging, "page_size", defaults.page_size),
            next_key=str(paging.get("next_key", defaults.next_key)),
            cursor_param=str(paging.get("cursor_param", defaults.cursor_param)),
            total_key=paging.get("total_key"),
        )


@dataclass(frozen=True)
class PatronSyncSpec:
    path: str
    fields: FieldMapping
    paging: Paging = Paging()
    changed_since_param: str = "changed_since"
    absent_means_left: bool = False
    date_format: str = "%Y-%m-%d"

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> PatronSyncSpec:
        try:
            return cls(
                path=read_str(settings, "path"),
                fields=FieldMapping.parse(settings.get("fields") or {}),
                paging=Paging.parse(settings.get("paging") or {}),
                changed_since_param=str(settings.get("changed_since_param", "changed_since")),
                absent_means_left=read_bool(settings, "absent_means_left", False),
                date_format=str(settings.get("date_format", "%Y-%m-%d")),
            )
        except ConnectorConfigError as exc:
            raise ConnectorConfigError(f"connectors.patron_sync: {exc}") from None


@dataclass
class SyncError:
    number: str | None
    message: str


@dataclass
class SyncReport:
    """What one run did.  Store ``started_at`` as the next run's ``changed_since`` only if ``complete``."""

    started_at: dt.datetime
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cards_replaced: int = 0
    left: list[str] = field(default_factory=list)
    needs_clearance: list[str] = field(default_factory=list)
    errors: list[SyncError] = field(default_factory=list)
    complete: bool = True


# --- reading pages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int | None


def _page(client: HttpClient, paging: Paging, url: str, params: dict[str, Any] | None) -> tuple[Page, Any]:
    """One page and its decoded document (for the next link or cursor)."""
    document = client.get_json(url, params=params)
    records = lookup(document, paging.items_key)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ConnectorProtocolError(client.name, f"{paging.items_key!r} is not a list of records in the answer")
    total = lookup(document, paging.total_key) if paging.total_key else None
    return Page(records, total if isinstance(total, int) else None), document


def iter_pages(client: HttpClient, spec: PatronSyncSpec, changed_since: dt.datetime | None = None) -> Iterator[Page]:
    """Every page of the upstream list, following the configured paging style."""
    paging = spec.paging
    params: dict[str, Any] = {}
    if changed_since is not None:
        params[spec.changed_since_param] = changed_since.isoformat()
    if paging.style in ("page", "cursor"):
        params[paging.size_param] = paging.page_size
    if paging.style == "page":
        params[paging.page_param] = paging.first_page
    url: str = spec.path
    while True:
        page, document = _page(client, paging, url, params)
        yield page
        if paging.style == "page":
            if len(page.records) < paging.page_size:
                return
            params[paging.page_param] += 1
        else:
            following = lookup(document, paging.next_key)
            if following in (MISSING, None, "") or not page.records:
                return
            if paging.style == "next_link":
                url, params = str(following), None  # the link carries every parameter
            else:
                params[paging.cursor_param] = following


# --- mapping one record ----------------------------------------------------------------------------


def _text(record: Mapping[str, Any], key: str) -> Any:
    value = lookup(record, key)
    return value if value is MISSING or value is None else str(value)


def map_record(record: Mapping[str, Any], spec: PatronSyncSpec) -> UpstreamPatron:
    """The patron an upstream record describes; :class:`MappingError` if it cannot be read."""
    fields = spec.fields
    number = _text(record, fields.number)
    if number in (MISSING, None, ""):
        raise MappingError(f"record has no patron number at {fields.number!r}")
    attributes: dict[str, Any] = {}
    for column, value in (
        ("name", _text(record, fields.name)),
        ("patron_type", fields.patron_type.read(record, "patron_type")),
        ("patron_group", fields.patron_group.read(record, "patron_group") if fields.patron_group else MISSING),
        *((column, _text(record, key)) for column, key in fields.optional.items()),
    ):
        if value is not MISSING:
            attributes[column] = value
    for required in patron_store.REQUIRED_FOR_NEW:
        if required in attributes and not attributes[required]:
            raise MappingError(f"record {number} has an empty {required}")
    return UpstreamPatron(
        number=number,
        attributes=attributes,
        card=_card(record, spec),
        left=fields.left_key is not None and str(lookup(record, fields.left_key)) in fields.left_values,
    )


def _card(record: Mapping[str, Any], spec: PatronSyncSpec) -> UpstreamCard | None:
    if not spec.fields.card_number:
        return None
    number = _text(record, spec.fields.card_number)
    if number in (MISSING, None, ""):
        return None
    valid_until = None
    if spec.fields.card_valid_until:
        raw = lookup(record, spec.fields.card_valid_until)
        if raw not in (MISSING, None, ""):
            try:
                valid_until = dt.datetime.strptime(str(raw), spec.date_format).date()
            except ValueError:
                raise MappingError(f"card validity {raw!r} does not match {spec.date_format!r}") from None
    return UpstreamCard(number, valid_until)


# --- the run ---------------------------------------------------------------------------------------


def sync_patrons(
    engine: Engine,
    library_id: int,
    client: HttpClient,
    spec: PatronSyncSpec,
    *,
    changed_since: dt.datetime | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Import and update the library's patrons from the host; one transaction per record.

    A record that cannot be mapped or applied is listed in ``errors`` and the
    run goes on.  If the host fails mid-run the report is ``complete=False``
    (what was applied stays applied) and nobody is marked left by absence.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    report = SyncReport(started_at=now)
    seen: set[str] = set()
    processed = 0
    try:
        for page in iter_pages(client, spec, changed_since):
            for record in page.records:
                _apply_record(engine, library_id, record, spec, now, report, seen)
                processed += 1
                if progress:
                    progress(processed, page.total)
    except ConnectorError as exc:
        report.complete = False
        report.errors.append(SyncError(None, str(exc)))
    if report.complete and spec.absent_means_left and changed_since is None:
        for number in patron_store.synced_patrons_not_in(engine, library_id, seen):
            _leave(engine, library_id, number, now, report)
    return report


def _apply_record(
    engine: Engine,
    library_id: int,
    record: Mapping[str, Any],
    spec: PatronSyncSpec,
    now: dt.datetime,
    report: SyncReport,
    seen: set[str],
) -> None:
    number = _text(record, spec.fields.number)
    try:
        upstream = map_record(record, spec)
        seen.add(upstream.number)
        if upstream.left:
            _leave(engine, library_id, upstream.number, now, report)
            return
        with engine.begin() as conn:
            change = patron_store.apply_upstream_patron(conn, library_id, upstream, now)
    except (MappingError, patron_store.StoreConflict, IntegrityError) as exc:
        report.errors.append(SyncError(None if number is MISSING else number, str(exc)))
        return
    report.created += change.created
    report.updated += change.updated
    report.unchanged += not (change.created or change.updated)
    report.cards_replaced += change.card_replaced


def _leave(engine: Engine, library_id: int, number: str, now: dt.datetime, report: SyncReport) -> None:
    with engine.begin() as conn:
        result = patron_store.leave(conn, library_id, number, now)
    if result == patron_store.LEFT:
        report.left.append(number)
    elif result == patron_store.NEEDS_CLEARANCE:
        report.needs_clearance.append(number)


def check(client: HttpClient, spec: PatronSyncSpec) -> CheckResult:
    """Fetch one small page and map its first record: proves reachability, shape and mapping."""

    def probe() -> str:
        small = replace(spec, paging=replace(spec.paging, page_size=1))
        page = next(iter_pages(client, small))
        if page.records:
            try:
                map_record(page.records[0], spec)
            except MappingError as exc:
                raise ConnectorProtocolError(
                    client.name, f"first record does not fit the field mapping: {exc}"
                ) from None
        return f"{len(page.records)} record(s) on the first page map cleanly"

    return run_check(client, spec.path, probe)
