"""Patron sync against recorded host answers: paging styles, mapping, card replacement, leavers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import responses
import sqlalchemy
from responses import matchers
from sqlalchemy import insert, select

from ils_bridge.connectors.http import HttpClient
from ils_bridge.connectors.patron_sync import PatronSyncSpec, check, sync_patrons
from ils_bridge.storage.schema import bib_records, cards, items, ledger_entries, loans, patrons

URL = "https://host.example.edu/api/patrons"

FIELDS = {
    "number": "sid",
    "name": "name",
    "patron_type": {"key": "cat", "values": {"UG": "undergraduate", "PG": "postgraduate"}},
    "patron_group": "dept",
    "card_number": "card.no",
    "card_valid_until": "card.valid_to",
    "email": "mail",
    "language": "lang",
    "field": "discipline",
    "external_id": "uid",
    "left": {"key": "state", "values": ["graduated"]},
}


def spec(paging: dict[str, Any] | None = None, **extra: Any) -> PatronSyncSpec:
    return PatronSyncSpec.from_mapping(
        {"path": "/patrons", "fields": FIELDS, "paging": paging or {"style": "page", "page_size": 2}, **extra}
    )


def record(sid: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "sid": sid,
        "uid": f"u-{sid}",
        "name": f"Student {sid}",
        "cat": "UG",
        "dept": "physics",
        "card": {"no": f"C{sid}", "valid_to": "2027-07-31"},
        "mail": f"{sid}@example.edu",
        "lang": "vi",
        "discipline": "natural sciences",
        "state": "enrolled",
    }
    base.update(overrides)
    return base


def patron_row(engine: sqlalchemy.Engine, number: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(patrons).where(patrons.c.number == number)).mappings().one()


def card_rows(engine: sqlalchemy.Engine, patron_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(cards).where(cards.c.patron_id == patron_id).order_by(cards.c.id)).mappings())


def page_of(records: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"items": records, "total": 3, **extra}


@responses.activate
def test_page_paging_creates_patrons_and_cards_and_reports_progress(engine, client: HttpClient, now) -> None:
    responses.get(
        URL,
        match=[matchers.query_param_matcher({"page": "1", "page_size": "2"})],
        json=page_of([record("1"), record("2")]),
    )
    responses.get(
        URL,
        match=[matchers.query_param_matcher({"page": "2", "page_size": "2"})],
        json=page_of([record("3", cat="PG")]),
    )
    progress: list[tuple[int, int | None]] = []

    report = sync_patrons(
        engine,
        1,
        client,
        spec(dict(style="page", page_size=2, total_key="total")),
        now=now,
        progress=lambda *a: progress.append(a),
    )

    assert (report.created, report.updated, report.errors, report.complete) == (3, 0, [], True)
    assert progress == [(1, 3), (2, 3), (3, 3)]
    third = patron_row(engine, "3")
    assert (third["name"], third["patron_type"], third["patron_group"], third["status"]) == (
        "Student 3",
        "postgraduate",
        "physics",
        "active",
    )
    assert (third["email"], third["language"], third["field"], third["external_id"]) == (
        "3@example.edu",
        "vi",
        "natural sciences",
        "u-3",
    )
    [card] = card_rows(engine, third["id"])
    assert (card["number"], card["status"], card["valid_until"]) == ("C3", "active", dt.date(2027, 7, 31))


@responses.activate
def test_next_link_paging_follows_links(engine, client: HttpClient, now) -> None:
    responses.get(
        URL,
        match=[matchers.query_param_matcher({})],
        json={"data": {"rows": [record("1")]}, "links": {"next": URL + "?after=1"}},
    )
    responses.get(
        URL,
        match=[matchers.query_param_matcher({"after": "1"})],
        json={"data": {"rows": [record("2")]}, "links": {"next": None}},
    )
    paging = {"style": "next_link", "items_key": "data.rows", "next_key": "links.next"}
    report = sync_patrons(engine, 1, client, spec(paging), now=now)
    assert report.created == 2 and len(responses.calls) == 2


@responses.activate
def test_cursor_paging_passes_the_cursor(engine, client: HttpClient, now) -> None:
    responses.get(
        URL, match=[matchers.query_param_matcher({"limit": "50"})], json={"items": [record("1")], "cursor": "abc"}
    )
    responses.get(
        URL,
        match=[matchers.query_param_matcher({"limit": "50", "after": "abc"})],
        json={"items": [record("2")], "cursor": None},
    )
    paging = {"style": "cursor", "size_param": "limit", "page_size": 50, "cursor_param": "after", "next_key": "cursor"}
    assert sync_patrons(engine, 1, client, spec(paging), now=now).created == 2


@responses.activate
def test_incremental_sync_sends_changed_since_and_updates_only_what_changed(
    engine, client: HttpClient, add_patron, add_card, now
) -> None:
    since = dt.datetime(2026, 11, 22, 0, 0, tzinfo=dt.timezone.utc)
    for sid in ("1", "2"):
        pid = add_patron(
            sid,
            name=f"Student {sid}",
            patron_group="physics",
            email=f"{sid}@example.edu",
            language="vi",
            field="natural sciences",
            external_id=f"u-{sid}",
        )
        add_card(pid, f"C{sid}", valid_until=dt.date(2027, 7, 31))
    params = {"page": "1", "page_size": "2", "changed_since": since.isoformat()}
    responses.get(
        URL, match=[matchers.query_param_matcher(params)], json=page_of([record("1"), record("2", name="Nguyễn Văn B")])
    )
    params2 = {**params, "page": "2"}
    responses.get(URL, match=[matchers.query_param_matcher(params2)], json=page_of([]))

    report = sync_patrons(engine, 1, client, spec(), changed_since=since, now=now)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert patron_row(engine, "2")["name"] == "Nguyễn Văn B"
    assert patron_row(engine, "2")["updated_at"] == now


@responses.activate
def test_replaced_card_keeps_patron_and_history(engine, client: HttpClient, add_patron, add_card, now) -> None:
    pid = add_patron("1")
    old = add_card(pid, "C-OLD", valid_until=dt.date(2026, 7, 31))
    responses.get(URL, json=page_of([record("1")]))

    report = sync_patrons(engine, 1, client, spec(), now=now)

    assert report.cards_replaced == 1 and report.updated == 1
    assert patron_row(engine, "1")["id"] == pid
    previous, current = card_rows(engine, pid)
    assert (previous["id"], previous["status"], previous["status_changed_at"]) == (old, "replaced", now)
    assert (current["number"], current["status"], current["replaces_card_id"]) == ("C1", "active", old)


@responses.activate
def test_new_validity_date_updates_the_same_card(engine, client: HttpClient, add_patron, add_card, now) -> None:
    pid = add_patron("1")
    add_card(pid, "C1", valid_until=dt.date(2026, 7, 31))
    responses.get(URL, json=page_of([record("1")]))
    report = sync_patrons(engine, 1, client, spec(), now=now)
    [card] = card_rows(engine, pid)
    assert report.cards_replaced == 0 and card["valid_until"] == dt.date(2027, 7, 31)


def _give_loan(engine: sqlalchemy.Engine, patron_id: int, now: dt.datetime) -> None:
    with engine.begin() as conn:
        bib = conn.execute(
            insert(bib_records).values(library_id=1, marc=b"", created_at=now, updated_at=now)
        ).inserted_primary_key[0]
        item = conn.execute(
            insert(items).values(
                library_id=1,
                bib_id=bib,
                barcode=f"X{patron_id}",
                material="book",
                status="checked_out",
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(loans).values(
                library_id=1,
                item_id=item,
                patron_id=patron_id,
                checked_out_at=now,
                due_at=now,
                status="active",
                policy_version=1,
                rule_id="r",
                terms={},
            )
        )


def _ledger(engine: sqlalchemy.Engine, patron_id: int, *amounts: int, now: dt.datetime) -> None:
    with engine.begin() as conn:
        for amount in amounts:
            conn.execute(
                insert(ledger_entries).values(
                    library_id=1,
                    patron_id=patron_id,
                    account="fees",
                    kind="charge" if amount > 0 else "payment",
                    amount_minor=amount,
                    currency="CNY",
                    created_at=now,
                )
            )


@responses.activate
def test_leavers_are_left_only_when_clear_and_never_deleted(engine, client: HttpClient, add_patron, now) -> None:
    clear, borrowing, owing, paid_up = (add_patron(n) for n in ("1", "2", "3", "4"))
    _give_loan(engine, borrowing, now)
    _ledger(engine, owing, 500, now=now)
    _ledger(engine, paid_up, 500, -500, now=now)
    responses.get(URL, json=page_of([record(n, state="graduated") for n in ("1", "2", "3", "4")], total=4))
    responses.get(URL, json=page_of([]))

    report = sync_patrons(engine, 1, client, spec({"style": "page", "page_size": 4}), now=now)

    assert sorted(report.left) == ["1", "4"] and sorted(report.needs_clearance) == ["2", "3"]
    assert patron_row(engine, "1")["status"] == "left" and patron_row(engine, "1")["left_at"] == now
    assert patron_row(engine, "2")["status"] == "active" and patron_row(engine, "3")["status"] == "active"
    with engine.connect() as conn:
        assert conn.execute(select(sqlalchemy.func.count()).select_from(patrons)).scalar() == 4


@responses.activate
def test_a_leaver_who_returns_is_active_again(engine, client: HttpClient, add_patron, now) -> None:
    add_patron("1", status="left", left_at=now)
    responses.get(URL, json=page_of([record("1")]))
    report = sync_patrons(engine, 1, client, spec(), now=now)
    assert (
        report.updated == 1
        and patron_row(engine, "1")["status"] == "active"
        and patron_row(engine, "1")["left_at"] is None
    )


@responses.activate
def test_full_run_with_absent_means_left_marks_missing_synced_patrons(
    engine, client: HttpClient, add_patron, now
) -> None:
    add_patron("9", external_id="u-9")  # came from the host, gone now
    add_patron("L1")  # registered locally, never from the host: left alone
    responses.get(URL, json=page_of([record("1")]))
    report = sync_patrons(engine, 1, client, spec(absent_means_left=True), now=now)
    assert report.left == ["9"] and patron_row(engine, "L1")["status"] == "active"


@responses.activate
def test_bad_records_are_reported_and_the_rest_applied(engine, client: HttpClient, add_patron, add_card, now) -> None:
    other = add_patron("7")
    add_card(other, "C-TAKEN")
    records = [
        {"name": "no number"},
        record("2", cat="ALIEN"),
        record("3", card={"no": "C-TAKEN"}),
        record("4", card={"no": "C4", "valid_to": "31/07/2027"}),
        record("5"),
        record("6", name=None),
    ]
    responses.get(URL, json=page_of(records))
    report = sync_patrons(engine, 1, client, spec({"style": "page", "page_size": 10}), now=now)
    errors = {e.number: e.message for e in report.errors}
    assert set(errors) == {None, "2", "3", "4", "6"}
    assert "not in the value map" in errors["2"] and "already belongs" in errors["3"]
    assert "does not match" in errors["4"] and "empty name" in errors["6"]
    assert report.created == 1 and patron_row(engine, "5")["status"] == "active"
    with engine.connect() as conn:
        assert conn.execute(select(patrons.c.number).where(patrons.c.number == "3")).first() is None


@responses.activate
def test_host_failure_mid_run_leaves_a_partial_report(engine, client: HttpClient, add_patron, now) -> None:
    add_patron("9", external_id="u-9")
    responses.get(
        URL,
        match=[matchers.query_param_matcher({"page": "1", "page_size": "2"})],
        json=page_of([record("1"), record("2")]),
    )
    responses.get(URL, match=[matchers.query_param_matcher({"page": "2", "page_size": "2"})], status=503)
    report = sync_patrons(engine, 1, client, spec(absent_means_left=True), now=now)
    assert report.complete is False and report.created == 2
    assert "HTTP 503" in report.errors[0].message
    assert report.left == [] and patron_row(engine, "9")["status"] == "active"


@responses.activate
def test_items_key_not_a_list_is_a_protocol_error_in_the_report(engine, client: HttpClient, now) -> None:
    responses.get(URL, json={"items": "oops"})
    report = sync_patrons(engine, 1, client, spec(), now=now)
    assert not report.complete and "not a list of records" in report.errors[0].message


@responses.activate
def test_check_fetches_one_record_and_maps_it(client: HttpClient) -> None:
    responses.get(
        URL, match=[matchers.query_param_matcher({"page": "1", "page_size": "1"})], json=page_of([record("1")])
    )
    result = check(client, spec())
    assert result.ok and "map cleanly" in result.detail


@responses.activate
@pytest.mark.parametrize(
    "answer, message", [({"items": [{"sid": "1", "cat": "??"}]}, "does not fit"), ({"rows": []}, "not a list")]
)
def test_check_reports_mapping_and_shape_problems(client: HttpClient, answer: dict, message: str) -> None:
    responses.get(URL, json=answer)
    result = check(client, spec())
    assert not result.ok and message in result.detail
