"""The application: a database, its libraries, and the service facade of each.

``App`` owns the database and a cache of parsed policy versions (keyed by
library and version number, so a policy applied by another process is seen
on the next call: the active version is read in every transaction).
``Library`` is what adapters call: every method is one transaction that
returns an ``Outcome``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ils_bridge.calendar import Closure, LibraryCalendar
from ils_bridge.clock import Clock, SystemClock
from ils_bridge.money import currency
from ils_bridge.outcome import Outcome, Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services import accounts, cards, circulation, explain, holds, ill, items, jobs, ledger, losses, notices, patrons
from ils_bridge.services.context import Ctx, LibraryRecord
from ils_bridge.storage import schema as s
from ils_bridge.storage.database import Database
from ils_bridge.storage.prepared import Prepared
from policies.loader import load_policy
from policies.model import Policy


class UnknownLibrary(LookupError):
    pass


# Statements run on every call, built once (SQLAlchemy then skips rebuilding their cache keys).
_ACTIVE_VERSION = select(s.policy_versions.c.version).where(
    s.policy_versions.c.library_id == bindparam("library"), s.policy_versions.c.active.is_(True))
_VERSION_DOCUMENT = select(s.policy_versions.c.version, s.policy_versions.c.document).where(
    s.policy_versions.c.library_id == bindparam("library"), s.policy_versions.c.version == bindparam("version"))
# One round trip per call for what every decision needs to know is current: the active policy version and
# a signature of the closures (count, newest id), so a change made by another process is seen at once.
_LIBRARY_STATE = Prepared(select(
    select(s.policy_versions.c.version).where(
        s.policy_versions.c.library_id == bindparam("library"), s.policy_versions.c.active.is_(True)).scalar_subquery(),
    select(func.count(s.closures.c.id), func.coalesce(func.max(s.closures.c.id), 0))
    .where(s.closures.c.library_id == bindparam("library")).subquery().c,
))
_CLOSURES = select(s.closures.c.start_date, s.closures.c.end_date, s.closures.c.kind, s.closures.c.name).where(
    s.closures.c.library_id == bindparam("library"))
_EARLIER_OUTCOME = Prepared(select(s.request_keys.c.outcome).where(
    s.request_keys.c.library_id == bindparam("library"), s.request_keys.c.scope == bindparam("scope"),
    s.request_keys.c.key == bindparam("key")))
_INSERT_REQUEST_KEY = Prepared(insert(s.request_keys).values(
    {name: bindparam(name) for name in ("library_id", "scope", "key", "op", "outcome", "created_at")}))
_INSERT_TRANSACTION = Prepared(insert(s.transactions).values({name: bindparam(name) for name in (
    "library_id", "at", "op", "patron_id", "item_id", "ok", "reason", "rule_id", "policy_version", "terminal", "detail")}))


CALL_OPTIONS = ("at", "terminal", "actor", "request_key")


def _call_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take the options every call accepts (time, terminal, actor, idempotency key) out of a method's own."""
    return {k: options.pop(k) for k in CALL_OPTIONS if k in options}


class App:
    def __init__(self, database: Database, clock: Clock | None = None):
        self.db = database
        self.clock = clock or SystemClock()
        self._policies: dict[tuple[int, int], Policy] = {}
        self._calendars: dict[tuple[int, int, int, int], LibraryCalendar] = {}

    @classmethod
    def open(cls, url: str, clock: Clock | None = None, *, create: bool = False) -> "App":
        app = cls(Database(url), clock)
        if create:
            app.db.create_schema()
        return app

    def close(self) -> None:
        self.db.dispose()

    # -- libraries and policies ---------------------------------------------
    def library(self, code: str) -> "Library":
        record = self.db.read(lambda conn: _library_record(conn, code))
        return Library(self, record)

    def library_codes(self) -> list[str]:
        return self.db.read(lambda conn: [r.code for r in conn.execute(select(s.libraries.c.code).order_by(s.libraries.c.code))])

    def create_library(self, policy_text: str, *, author: str, message: str = "initial policy",
                       filename: str = "<policy>") -> "Library":
        policy = load_policy(policy_text, filename)
        info = policy.library

        def work(conn: Connection) -> None:
            if conn.execute(select(s.libraries.c.id).where(s.libraries.c.code == info.code)).first():
                raise Refusal(Reason.DUPLICATE, f"library {info.code} already exists")
            library_id = conn.execute(insert(s.libraries).values(
                code=info.code, name=info.name, currency=info.currency.code, timezone=info.timezone, language=info.language,
            )).inserted_primary_key[0]
            _insert_version(conn, library_id, policy_text, author, message, self.clock.now())

        self.db.transaction(work)
        return self.library(info.code)

    def policy(self, conn: Connection, library_id: int) -> Policy:
        """The active policy, read on every call so a version applied by another process takes effect at once."""
        version = conn.execute(_ACTIVE_VERSION, {"library": library_id}).scalar()
        if version is None:
            raise UnknownLibrary(f"library {library_id} has no active policy")
        return self.policy_version(conn, library_id, version)

    def policy_version(self, conn: Connection, library_id: int, version: int) -> Policy:
        """A parsed policy version (versions never change once written, so they are cached for good)."""
        key = (library_id, version)
        if key not in self._policies:
            row = conn.execute(_VERSION_DOCUMENT, {"library": library_id, "version": version}).one()
            policy = load_policy(row.document, f"policy version {row.version}")
            object.__setattr__(policy, "version", row.version)
            self._policies[key] = policy
        return self._policies[key]


    def calendar(self, conn: Connection, record: LibraryRecord, policy: Policy, closures: tuple[int, int]) -> LibraryCalendar:
        """The policy's calendar with the closures staff added, rebuilt only when either changes.

        ``closures`` is the (count, newest id) signature read in the same transaction.  Calendars
        are shared read-only by the calls that follow.
        """
        key = (record.id, policy.version, *closures)
        if key not in self._calendars:
            if len(self._calendars) > 256:
                self._calendars.clear()
            stored = [Closure(*row) for row in conn.execute(_CLOSURES, {"library": record.id})]
            self._calendars[key] = LibraryCalendar(record.timezone, policy.calendar.weekly_closed,
                                                   [*policy.calendar.closures, *stored])
        return self._calendars[key]


def _library_record(conn: Connection, code: str) -> LibraryRecord:
    row = conn.execute(select(s.libraries).where(s.libraries.c.code == code)).first()
    if row is None:
        raise UnknownLibrary(f"no library with code {code!r}")
    return LibraryRecord(row.id, row.code, row.name, currency(row.currency), row.timezone, row.language)


def _insert_version(conn: Connection, library_id: int, text: str, author: str, message: str, now: dt.datetime) -> int:
    latest = conn.execute(select(s.policy_versions.c.version).where(s.policy_versions.c.library_id == library_id)
                          .order_by(s.policy_versions.c.version.desc()).limit(1)).scalar() or 0
    conn.execute(update(s.policy_versions).where(s.policy_versions.c.library_id == library_id).values(active=False))
    conn.execute(insert(s.policy_versions).values(
        library_id=library_id, version=latest + 1, document=text, sha256=hashlib.sha256(text.encode()).hexdigest(),
        author=author, message=message, applied_at=now, active=True))
    return latest + 1


class Library:
    """The service facade of one library.  See docs/architecture.md."""

    def __init__(self, app: App, record: LibraryRecord):
        self.app = app
        self.record = record


    @property
    def code(self) -> str:
        return self.record.code

    # -- the transaction wrapper ----------------------------------------------
    def _context(self, conn: Connection, at: dt.datetime | None, terminal: str | None, actor: str | None) -> Ctx:
        version, closures, newest = _LIBRARY_STATE.first(conn, {"library": self.record.id})
        if version is None:
            raise UnknownLibrary(f"library {self.record.code} has no active policy")
        policy = self.app.policy_version(conn, self.record.id, version)
        calendar = self.app.calendar(conn, self.record, policy, (closures, newest))
        return Ctx(conn, self.record, policy, calendar, at or self.app.clock.now(), terminal, actor)

    def _run(self, op: str, work: Callable[[Ctx], dict[str, Any]], *, at: dt.datetime | None = None,
             terminal: str | None = None, actor: str | None = None, request_key: str | None = None,
             log: bool = True) -> Outcome:
        if at is not None and at.tzinfo is None:
            return Refusal(Reason.INVALID_REQUEST, "times must carry a timezone").outcome()
        scope = f"terminal:{terminal}" if terminal else "api"

        # A request key is checked when it is written, not looked up first: a resent request redoes the work in
        # its transaction, the key's unique index refuses it, and everything it did is rolled back before the
        # first answer is returned (below).  Resends are rare; the lookup every first request paid is gone.
        def attempt(conn: Connection) -> Outcome:
            ctx = self._context(conn, at, terminal, actor)
            data = work(ctx)
            outcome = Outcome(ok=True, rule=data.pop("rule", None), policy_version=data.pop("policy_version", ctx.policy.version),
                              due=data.pop("due", None), fees=tuple(ctx.fees), data=data)
            notices.queue(ctx)
            self._record(ctx, op, outcome, request_key, scope, log)
            return outcome

        try:
            return self.app.db.transaction(attempt)
        except Refusal as refusal:
            return self._refused(op, refusal, at, terminal, actor, request_key, scope, log)
        except IntegrityError as error:
            if request_key is None:
                raise
            return self._earlier_outcome(scope, request_key, error)  # answered before (a resend), or elsewhere

    def _refused(self, op: str, refusal: Refusal, at: dt.datetime | None, terminal: str | None, actor: str | None,
                 request_key: str | None, scope: str, log: bool) -> Outcome:
        """Everything the refused call did is rolled back; only its audit line and idempotency key are written."""
        def record(conn: Connection) -> Outcome:
            ctx = self._context(conn, at, terminal, actor)
            outcome = refusal.outcome(ctx.policy.version)
            self._record(ctx, op, outcome, request_key, scope, log)
            return outcome

        try:
            return self.app.db.transaction(record)
        except IntegrityError as error:
            if request_key is None:
                raise
            return self._earlier_outcome(scope, request_key, error)  # answered before (a resend), or elsewhere

    def _earlier_outcome(self, scope: str, request_key: str, error: IntegrityError) -> Outcome:
        """The answer already given to this request, when writing its key broke a constraint (``error``,
        raised again if the key is not there: then the constraint was another one)."""
        earlier = self.app.db.read(lambda conn: _EARLIER_OUTCOME.scalar(
            conn, {"library": self.record.id, "scope": scope, "key": request_key}))
        if earlier is None:
            raise error
        return Outcome.from_json(earlier)

    def _record(self, ctx: Ctx, op: str, outcome: Outcome, request_key: str | None, scope: str, log: bool) -> None:
        if request_key is not None:
            _INSERT_REQUEST_KEY.run(ctx.conn, {
                "library_id": self.record.id, "scope": scope, "key": request_key, "op": op, "outcome": outcome.to_json(),
                "created_at": ctx.now})
        if log:
            _INSERT_TRANSACTION.run(ctx.conn, {
                "library_id": self.record.id, "at": ctx.now, "op": op, "patron_id": outcome.data.get("patron_id"),
                "item_id": outcome.data.get("item_id"), "ok": outcome.ok,
                "reason": outcome.reason.value if outcome.reason else None, "rule_id": outcome.rule,
                "policy_version": outcome.policy_version, "terminal": ctx.terminal,
                "detail": {"fees": [f.to_json() for f in outcome.fees]} if outcome.fees else None})
            for line in ctx.audit_lines:
                _INSERT_TRANSACTION.run(ctx.conn, {"library_id": self.record.id, "at": ctx.now, "terminal": ctx.terminal,
                                                   "detail": None, **line})

    def _read(self, work: Callable[[Ctx], Any], at: dt.datetime | None = None) -> Any:
        """A read-only call: returns its result, or raises Refusal (unknown patron/item)."""
        return self.app.db.read(lambda conn: work(self._context(conn, at, None, None)))

    # -- circulation ----------------------------------------------------------
    def checkout(self, patron: str, item: str, *, renew_if_own: bool = False, no_block: bool = False, **kw: Any) -> Outcome:
        return self._run("checkout", lambda ctx: circulation.checkout(
            ctx, patron, item, renew_if_own=renew_if_own, no_block=no_block), **kw)

    def checkin(self, item: str, *, returned_at: dt.datetime | None = None, **kw: Any) -> Outcome:
        return self._run("checkin", lambda ctx: circulation.checkin(ctx, item, returned_at=returned_at), **kw)

    def renew(self, patron: str, item: str, **kw: Any) -> Outcome:
        return self._run("renew", lambda ctx: circulation.renew(ctx, patron, item), **kw)

    def renew_all(self, patron: str, **kw: Any) -> Outcome:
        return self._run("renew_all", lambda ctx: circulation.renew_all(ctx, patron), **kw)

    def place_hold(self, patron: str, *, item: str | None = None, title_id: int | None = None,
                   lapse_on: dt.date | None = None, pickup_branch: str | None = None, **kw: Any) -> Outcome:
        return self._run("hold", lambda ctx: holds.place_hold(
            ctx, patron, item=item, title_id=title_id, lapse_on=lapse_on, pickup_branch=pickup_branch), **kw)

    def cancel_hold(self, patron: str, *, hold_id: int | None = None, item: str | None = None, **kw: Any) -> Outcome:
        return self._run("cancel_hold", lambda ctx: holds.cancel_hold(ctx, patron, hold_id=hold_id, item=item), **kw)

    def change_hold(self, patron: str, *, hold_id: int | None = None, item: str | None = None,
                    lapse_on: dt.date | None = None, pickup_branch: str | None = None, **kw: Any) -> Outcome:
        return self._run("change_hold", lambda ctx: holds.change_hold(
            ctx, patron, hold_id=hold_id, item=item, lapse_on=lapse_on, pickup_branch=pickup_branch), **kw)

    def recall(self, item: str, *, new_due: dt.date | None = None, **kw: Any) -> Outcome:
        return self._run("recall", lambda ctx: holds.recall(ctx, item, new_due=new_due), **kw)

    def report_lost(self, item: str, **options: Any) -> Outcome:
        kw = _call_options(options)
        return self._run("lost", lambda ctx: losses.report_lost(ctx, item, **options), **kw)

    def found(self, item: str, **kw: Any) -> Outcome:
        return self._run("found", lambda ctx: losses.found(ctx, item), **kw)

    def charge_damage(self, item: str, kind: str, **options: Any) -> Outcome:
        kw = _call_options(options)
        return self._run("damage", lambda ctx: losses.charge_damage(ctx, item, kind, **options), **kw)

    def charge_theft(self, patron: str, items: Iterable[str], **kw: Any) -> Outcome:
        barcodes = list(items)
        return self._run("theft", lambda ctx: losses.charge_theft(ctx, patron, barcodes), **kw)

    # -- money ----------------------------------------------------------
    def pay(self, patron: str, amount: object, currency: str | None = None, *, fee_id: int | None = None,
            payment_type: str = "cash", **kw: Any) -> Outcome:
        return self._run("pay", lambda ctx: ledger.pay(ctx, patron, amount, currency, fee_id=fee_id, payment_type=payment_type), **kw)

    def waive(self, patron: str, *, fee_id: int, approver: str, reason: str, amount: object | None = None,
              approvals: Iterable[str] = (), **kw: Any) -> Outcome:
        given = tuple(approvals)
        return self._run("waive", lambda ctx: ledger.waive(
            ctx, patron, fee_id=fee_id, approver=approver, reason=reason, amount=amount, approvals=given), **kw)

    def refund(self, patron: str, amount: object, *, reason: str, **kw: Any) -> Outcome:
        return self._run("refund", lambda ctx: ledger.refund(ctx, patron, amount, reason=reason), **kw)

    def take_deposit(self, patron: str, amount: object, currency: str | None = None, **kw: Any) -> Outcome:
        return self._run("deposit_take", lambda ctx: ledger.take_deposit(ctx, patron, amount, currency), **kw)

    def refund_deposit(self, patron: str, **kw: Any) -> Outcome:
        return self._run("deposit_refund", lambda ctx: ledger.refund_deposit(ctx, patron), **kw)

    def deduct_deposit(self, patron: str, amount: object, *, reason: str, **kw: Any) -> Outcome:
        return self._run("deposit_deduct", lambda ctx: ledger.manual_deduction(ctx, patron, amount, reason=reason), **kw)

    def buy_package(self, patron: str, code: str, *, payment_type: str = "cash", **kw: Any) -> Outcome:
        return self._run("package", lambda ctx: cards.buy_package(ctx, patron, code, payment_type=payment_type), **kw)

    # -- patrons and cards ----------------------------------------------
    def register_patron(self, number: str, name: str, patron_type: str, **details: Any) -> Outcome:
        kw = _call_options(details)
        return self._run("register", lambda ctx: patrons.register_patron(ctx, number, name, patron_type, **details), **kw)

    def approve_patron(self, patron: str, *, approver: str, **kw: Any) -> Outcome:
        return self._run("approve", lambda ctx: patrons.approve_patron(ctx, patron, approver=approver), **kw)

    def block_patron(self, patron: str, reason: str, **kw: Any) -> Outcome:
        return self._run("block", lambda ctx: patrons.set_block(ctx, patron, True, reason), **kw)

    def unblock_patron(self, patron: str, **kw: Any) -> Outcome:
        return self._run("unblock", lambda ctx: patrons.set_block(ctx, patron, False), **kw)

    def ban_patron(self, patron: str, *, reason: str, months: int | None = None, until: dt.date | None = None,
                   confiscate_card: bool = False, **kw: Any) -> Outcome:
        return self._run("ban", lambda ctx: patrons.ban_patron(
            ctx, patron, months=months, until=until, reason=reason, confiscate_card=confiscate_card), **kw)

    def set_pin(self, patron: str, pin: str, **kw: Any) -> Outcome:
        return self._run("set_pin", lambda ctx: patrons.set_pin(ctx, patron, pin), **kw)

    def authenticate(self, patron: str, pin: str, **kw: Any) -> Outcome:
        return self._run("authenticate", lambda ctx: patrons.authenticate(ctx, patron, pin), log=False, **kw)

    def clearance(self, patron: str, *, mark_left: bool = False, **kw: Any) -> Outcome:
        return self._run("clearance", lambda ctx: patrons.clearance(ctx, patron, mark_left=mark_left), **kw)

    def issue_card(self, patron: str, number: str, *, kind: str | None = None, valid_until: dt.date | None = None,
                   payment_type: str = "cash", **kw: Any) -> Outcome:
        return self._run("card_issue", lambda ctx: cards.issue_card(
            ctx, patron, number, kind=kind, valid_until=valid_until, payment_type=payment_type), **kw)

    def issue_group_card(self, organisation: str, number: str, *, members: int, approver: str | None = None, **kw: Any) -> Outcome:
        return self._run("card_group", lambda ctx: cards.issue_group_card(
            ctx, organisation, number, members=members, approver=approver), **kw)

    def renew_card(self, card: str, *, valid_until: dt.date | None = None, **kw: Any) -> Outcome:
        return self._run("card_renew", lambda ctx: cards.renew_card(ctx, card, valid_until=valid_until), **kw)

    def report_card_lost(self, card: str, **kw: Any) -> Outcome:
        return self._run("card_lost", lambda ctx: cards.report_card_lost(ctx, card), **kw)

    def replace_card(self, card: str, *, new_number: str | None = None, **kw: Any) -> Outcome:
        return self._run("card_replace", lambda ctx: cards.replace_card(ctx, card, new_number=new_number), **kw)

    # -- ILL ----------------------------------------------------------------
    def ill_request(self, patron: str, title: str, **details: Any) -> Outcome:
        kw = _call_options(details)
        return self._run("ill_request", lambda ctx: ill.ill_request(ctx, patron, title, **details), **kw)

    def ill_update(self, request_id: int, state: str, **details: Any) -> Outcome:
        kw = _call_options(details)
        return self._run("ill_update", lambda ctx: ill.ill_update(ctx, request_id, state, **details), **kw)

    # -- items ----------------------------------------------------------------
    def add_title(self, title: str, **details: Any) -> Outcome:
        kw = _call_options(details)
        return self._run("add_title", lambda ctx: {"rule": "items:title", "title_id": items.add_title(ctx, title, **details)},
                         log=False, **kw)

    def add_item(self, barcode: str, title_id: int, material: str, **attributes: Any) -> Outcome:
        kw = _call_options(attributes)
        return self._run("add_item", lambda ctx: items.add_item(ctx, barcode, title_id, material, **attributes), log=False, **kw)

    def update_item(self, barcode: str, **changes: Any) -> Outcome:
        kw = _call_options(changes)
        return self._run("update_item", lambda ctx: items.update_item(ctx, barcode, **changes), **kw)

    # -- calendar and jobs ----------------------------------------------------
    def add_closure(self, start: dt.date, end: dt.date, kind: str, name: str = "", **kw: Any) -> Outcome:
        def work(ctx: Ctx) -> dict[str, Any]:
            if kind not in ("holiday", "vacation", "closed") or end < start:
                raise Refusal(Reason.INVALID_REQUEST, "a closure has a kind (holiday, vacation, closed) and ends on or after it starts")
            closure_id = ctx.conn.execute(insert(s.closures).values(
                library_id=self.record.id, start_date=start, end_date=end, kind=kind, name=name)).inserted_primary_key[0]
            return {"rule": "calendar:closure", "closure_id": closure_id}

        return self._run("closure", work, **kw)

    def run_jobs(self, **kw: Any) -> Outcome:
        return self._run("jobs", jobs.run_jobs, **kw)

    # -- reads ----------------------------------------------------------------
    def patron_account(self, patron: str, at: dt.datetime | None = None) -> dict[str, Any]:
        return self._read(lambda ctx: accounts.patron_account(ctx, patron), at)

    def item_info(self, barcode: str, at: dt.datetime | None = None) -> dict[str, Any]:
        return self._read(lambda ctx: accounts.item_info(ctx, barcode), at)

    def item_circulation(self, barcode: str) -> dict[str, Any]:
        """An item's circulation state (``item_info`` without author, call number, price and the policy's
        in-library-only verdict): the RFID gate's and the self-check screen's read, kept to one statement
        with no transaction or policy around it."""
        return self.app.db.read_statement(lambda conn: accounts.item_circulation(conn, self.record.id, barcode))

    def availability(self, title_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        ids = list(title_ids)
        return self._read(lambda ctx: accounts.availability(ctx, ids))

    def explain(self, patron: str, item: str, action: str = "checkout", at: dt.datetime | None = None) -> dict[str, Any]:
        """The decision the policy would make now, and the rules behind it (nothing is written)."""
        return self._read(lambda ctx: explain.explain(ctx, patron, item, action), at)

    def current_policy(self) -> Policy:
        return self.app.db.read(lambda conn: self.app.policy(conn, self.record.id))

    def apply_policy(self, text: str, *, author: str, message: str, filename: str = "<policy>") -> int:
        """Validate and activate a new policy version; running loans keep the terms they were made under."""
        policy = load_policy(text, filename)
        if policy.library.code != self.code:
            raise ValueError(f"the policy is for library {policy.library.code!r}, not {self.code!r}")
        if policy.library.currency.code != self.record.currency.code:
            raise ValueError(f"the policy's currency {policy.library.currency.code} is not the library's {self.record.currency.code}")
        return self.app.db.transaction(lambda conn: _insert_version(conn, self.record.id, text, author, message, self.app.clock.now()))

    def policy_history(self) -> list[dict[str, Any]]:
        return self.app.db.read(lambda conn: [dict(r._mapping) for r in conn.execute(
            select(s.policy_versions.c.version, s.policy_versions.c.author, s.policy_versions.c.message,
                   s.policy_versions.c.applied_at, s.policy_versions.c.active, s.policy_versions.c.sha256)
            .where(s.policy_versions.c.library_id == self.record.id).order_by(s.policy_versions.c.version))])

    def policy_document(self, version: int) -> str:
        text = self.app.db.read(lambda conn: conn.execute(select(s.policy_versions.c.document).where(
            s.policy_versions.c.library_id == self.record.id, s.policy_versions.c.version == version)).scalar())
        if text is None:
            raise LookupError(f"no policy version {version}")
        return text

    def rollback_policy(self, version: int, *, author: str) -> int:
        """Re-apply an earlier version as a new one (history is never rewritten)."""
        return self.apply_policy(self.policy_document(version), author=author, message=f"rollback to version {version}")
