"""The database schema, in one place: SQLAlchemy Core tables.

Conventions
- Money is an integer count of the currency's minor units (``*_minor``) next
  to a three-letter ``currency``; ``ils_bridge.money`` converts to Decimal.
- Instants are ``UtcDateTime`` (aware, stored as UTC); calendar days are
  ``Date`` in the library's own timezone.
- Every row belongs to one library (``library_id``), so one database can host
  a consortium.
- Status columns hold the lower-case names listed in the comment beside them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from ils_bridge.storage.types import JsonText, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

Id = BigInteger().with_variant(Integer, "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _library() -> Column:
    return Column("library_id", Id, ForeignKey("libraries.id"), nullable=False, index=True)


libraries = Table(
    "libraries",
    metadata,
    _id(),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("language", String(8), nullable=False, server_default="en"),
)

branches = Table(
    "branches",
    metadata,
    _id(),
    _library(),
    Column("code", String(64), nullable=False),
    Column("name", Text, nullable=False),
    UniqueConstraint("library_id", "code"),
)

# Days the library is closed: public holidays, vacations, one-off closures.
# Weekly closed days and opening hours live in the policy's calendar section.
closures = Table(
    "closures",
    metadata,
    _id(),
    _library(),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("kind", String(16), nullable=False),  # holiday | vacation | closed
    Column("name", Text, nullable=False, server_default=""),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    _id(),
    _library(),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),  # the policy file exactly as applied
    Column("sha256", String(64), nullable=False),
    Column("author", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("false")),
    UniqueConstraint("library_id", "version"),
)

patrons = Table(
    "patrons",
    metadata,
    _id(),
    _library(),
    Column("number", String(64), nullable=False),  # permanent patron identifier
    Column("name", Text, nullable=False),
    Column("patron_type", String(64), nullable=False),
    Column("patron_group", String(64)),
    Column("status", String(16), nullable=False),  # pending | active | left
    Column("language", String(8)),
    Column("email", Text),
    Column("phone", Text),
    Column("field", Text),  # discipline, for ILL subsidy decisions
    Column("birth_date", Date),
    Column("pin_hash", Text),
    Column("blocked", Boolean, nullable=False, server_default=text("false")),
    Column("block_reason", Text),
    Column("banned_until", Date),
    Column("ban_reason", Text),
    Column("parent_id", Id, ForeignKey("patrons.id")),  # member of a group-card organisation
    Column("external_id", Text),  # identifier in the host platform
    Column("created_at", UtcDateTime, nullable=False),
    Column("approved_at", UtcDateTime),
    Column("approved_by", Text),
    Column("left_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("library_id", "number"),
)

cards = Table(
    "cards",
    metadata,
    _id(),
    _library(),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("number", String(64), nullable=False),
    Column("kind", String(32), nullable=False, server_default="borrowing"),
    Column("status", String(16), nullable=False),  # active | lost | expired | blocked | replaced | confiscated
    Column("issued_at", UtcDateTime, nullable=False),
    Column("valid_until", Date),
    Column("replaces_card_id", Id, ForeignKey("cards.id")),
    Column("status_changed_at", UtcDateTime, nullable=False),
    Column("note", Text),
    # A replacement card may keep the old number (history kept by replaces_card_id),
    # so numbers are unique only among cards that are not replaced.
    Index(
        "uq_cards_live_number",
        "library_id",
        "number",
        unique=True,
        sqlite_where=text("status != 'replaced'"),
        postgresql_where=text("status != 'replaced'"),
    ),
    # A terminal names a card by its number, replaced or not: every checkout starts here.
    Index("ix_cards_number", "library_id", "number"),
)

package_purchases = Table(
    "package_purchases",
    metadata,
    _id(),
    _library(),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("package", String(64), nullable=False),
    Column("bought_at", UtcDateTime, nullable=False),
    Column("valid_until", Date, nullable=False),
)

bib_records = Table(
    "bib_records",
    metadata,
    _id(),
    _library(),
    Column("control_number", String(64)),  # 001
    Column("control_source", String(64)),  # 003
    Column("title", Text, nullable=False, server_default=""),
    Column("author", Text),
    Column("pub_year", Integer),
    Column("language", String(8)),
    Column("marc", LargeBinary, nullable=False),  # ISO 2709, UTF-8, without holdings fields
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False, index=True),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
)

# Match points of a bibliographic record (ISBN-13, ISSN, 035, 001/003 ...).
record_keys = Table(
    "record_keys",
    metadata,
    Column("record_id", Id, ForeignKey("bib_records.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("library_id", Id, ForeignKey("libraries.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # control | isbn | issn | system
    Column("value", String(128), nullable=False),
    Index("ix_record_keys_lookup", "library_id", "kind", "value"),
)

items = Table(
    "items",
    metadata,
    _id(),
    _library(),
    Column("bib_id", Id, ForeignKey("bib_records.id"), nullable=False, index=True),
    Column("barcode", String(64), nullable=False),
    Column("material", String(64), nullable=False),
    Column("collection", String(64)),
    Column("language", String(8)),
    Column("classification", String(64)),
    Column("price_minor", BigInteger),
    Column("currency", String(3)),
    Column("pub_year", Integer),
    Column("branch", String(64)),
    Column("location", String(64)),
    Column("call_number", Text),
    Column("copy_number", String(32)),
    Column("volume", String(32)),
    Column("volumes_in_set", Integer),
    Column("set_price_minor", BigInteger),
    Column("important_work", Boolean, nullable=False, server_default=text("false")),
    Column("closed_stack", Boolean, nullable=False, server_default=text("false")),
    Column("replacement_value_minor", BigInteger),  # library-set value for old items
    Column("status", String(16), nullable=False),  # available | checked_out | on_hold_shelf | lost | missing | withdrawn | in_transit
    Column("times_loaned", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("library_id", "barcode"),
)

loans = Table(
    "loans",
    metadata,
    _id(),
    _library(),
    Column("item_id", Id, ForeignKey("items.id"), nullable=False),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False),
    Column("card_id", Id, ForeignKey("cards.id")),
    Column("checked_out_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("returned_at", UtcDateTime),
    Column("status", String(16), nullable=False),  # active | returned | lost
    Column("renewals", Integer, nullable=False, server_default=text("0")),
    Column("recalled_at", UtcDateTime),
    Column("recall_notices", Integer, nullable=False, server_default=text("0")),
    Column("first_reader", Boolean, nullable=False, server_default=text("false")),
    # The terms are fixed when the loan is made: a later policy change does not rewrite them.
    Column("policy_version", Integer, nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("terms", JsonText, nullable=False),
    Column("deposit_deducted_days", Integer, nullable=False, server_default=text("0")),
    Column("terminal", String(64)),
    # No item may be lent twice at once, whatever the engine or process.
    Index(
        "uq_loans_active_item",
        "item_id",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
    # Circulation looks loans up by item or by borrower, and almost always wants the active ones only:
    # with the status in the index, neither lookup walks the loan history.
    Index("ix_loans_item_status", "item_id", "status"),
    Index("ix_loans_patron_status", "patron_id", "status"),
)

holds = Table(
    "holds",
    metadata,
    _id(),
    _library(),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("bib_id", Id, ForeignKey("bib_records.id"), nullable=False),
    Column("item_id", Id, ForeignKey("items.id")),  # an item-level hold, or the copy trapped for it
    Column("placed_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # waiting | ready | fulfilled | cancelled | expired
    Column("pickup_branch", String(64)),
    Column("ready_at", UtcDateTime),
    Column("shelf_expires_on", Date),
    Column("lapse_on", Date),  # the patron's own "not needed after" date
    Column("closed_at", UtcDateTime),
    Column("policy_version", Integer, nullable=False),
    Column("rule_id", String(128), nullable=False),
    # Every checkout and checkin asks for a title's waiting queue; a gate, for the hold a copy is trapped for.
    Index("ix_holds_bib_status", "bib_id", "status"),
    Index("ix_holds_item_status", "item_id", "status"),
)

# The fee and deposit ledger.  Amounts are signed: on the "fees" account a
# positive amount is owed by the patron; on the "deposit" account a positive
# amount is held for the patron.  Balances are sums; entries are never edited.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    _id(),
    _library(),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False),
    Column("account", String(8), nullable=False),  # fees | deposit
    Column("kind", String(24), nullable=False),  # charge | payment | waiver | credit | refund | deduction | deposit_take | deposit_refund
    Column("fee_type", String(32)),  # overdue | lost | processing | damage | card | package | theft | barcode | other
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("applies_to", Id, ForeignKey("ledger_entries.id")),  # the charge a payment/waiver/credit settles
    Column("loan_id", Id, ForeignKey("loans.id")),
    Column("item_id", Id, ForeignKey("items.id")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("actor", Text),
    Column("approver", Text),
    Column("reason", Text),
    Column("rule_id", String(128)),
    Column("payment_type", String(16)),
    Index("ix_ledger_applies_to", "applies_to"),
    # A balance is a sum over one patron's account: answered from the index alone.
    Index("ix_ledger_balance", "patron_id", "account", "amount_minor"),
)

# One row per circulation decision, accepted or refused: the audit trail,
# the input of reports, and what `policy simulate` replays.
transactions = Table(
    "transactions",
    metadata,
    _id(),
    Column("library_id", Id, ForeignKey("libraries.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("op", String(24), nullable=False),
    Column("patron_id", Id),
    Column("item_id", Id),
    Column("ok", Boolean, nullable=False),
    Column("reason", String(48)),
    Column("rule_id", String(128)),
    Column("policy_version", Integer),
    Column("terminal", String(64)),
    Column("detail", JsonText),
    # Every reader asks for one library's lines over a time span; one index for both (every call writes a line,
    # and each index is one more page to write at its commit).
    Index("ix_transactions_library_at", "library_id", "at"),
)

# Idempotency: a terminal that resends a transaction gets the first answer back.
request_keys = Table(
    "request_keys",
    metadata,
    _id(),
    _library(),
    Column("scope", String(128), nullable=False),  # e.g. "sip2:<terminal login>"
    Column("key", String(256), nullable=False),
    Column("op", String(24), nullable=False),
    Column("outcome", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("library_id", "scope", "key"),
)

ill_requests = Table(
    "ill_requests",
    metadata,
    _id(),
    _library(),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("details", JsonText),
    Column("field", Text),  # subject field of the requested document
    Column("kind", String(16), nullable=False),  # loan | copy (document delivery)
    Column("state", String(16), nullable=False),  # new | sent | filled | not_filled | redirected | delivered | cancelled
    Column("lender", Text),
    Column("gateway_ref", Text),
    Column("cost_minor", BigInteger),
    Column("subsidy_minor", BigInteger),
    Column("subsidy_rule", String(128)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("history", JsonText, nullable=False),
)

sip2_terminals = Table(
    "sip2_terminals",
    metadata,
    _id(),
    _library(),
    Column("login", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False, server_default="selfcheck"),  # selfcheck | gate | sorter | staff
    Column("allowed_ops", JsonText, nullable=False),
    Column("settings", JsonText, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("rotated_at", UtcDateTime),
)

notices_outbox = Table(
    "notices_outbox",
    metadata,
    _id(),
    _library(),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),  # due_soon | overdue | recall | hold_ready | hold_expired | fine | card_expiring | deposit_deducted | ill_arrived
    Column("channel", String(16), nullable=False),  # email | sms | wechat
    Column("dedupe_key", String(256), nullable=False),
    Column("payload", JsonText, nullable=False),
    Column("status", String(16), nullable=False),  # pending | sent | dead
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    UniqueConstraint("library_id", "dedupe_key"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)
