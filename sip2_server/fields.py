"""Every SIP2 (3M Standard Interchange Protocol 2.00) constant in one place.

- ``FIELDS``: variable-length field identifiers (two characters) and their names.
- ``MESSAGES``: the layout of every message: its fixed-length fields in wire
  order, then its variable-length fields in the order the spec lists them, each
  marked required or optional.
- Code tables for the enumerated fixed fields (circulation status, fee type,
  payment type, security marker, media type, ...).

Fixed fields are addressed by snake_case name (``transaction_date``); variable
fields by their two-character identifier (``"AA"``).  The ``F`` namespace gives
readable names for the identifiers: ``F.PATRON_IDENTIFIER == "AA"``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

FIELD_DELIMITER = "|"
DATE_LENGTH = 18
"""YYYYMMDDZZZZHHMMSS: ZZZZ blank for local time, ``   Z`` for UTC."""


class Kind(Enum):
    """What a fixed field holds; decides how the codec checks and renders it."""

    FLAG = "flag"  # one character: Y/N/U, a digit, a hold mode, ...
    TEXT = "text"  # any characters (patron status, summary, currency, version)
    NUMBER = "number"  # decimal digits, zero-padded on output
    DATE = "date"  # YYYYMMDDZZZZHHMMSS, or all blanks where a date may be absent


@dataclass(frozen=True)
class FixedField:
    name: str
    length: int
    kind: Kind


@dataclass(frozen=True)
class FieldSpec:
    code: str
    name: str
    repeatable: bool = False
    extension: bool = False  # not in 2.00 itself but sent by common vendors


@dataclass(frozen=True)
class VariableField:
    code: str
    required: bool


@dataclass(frozen=True)
class MessageSpec:
    id: str
    name: str
    fixed: tuple[FixedField, ...]
    variable: tuple[VariableField, ...]
    response_id: str | None = None

    @property
    def fixed_length(self) -> int:
        return sum(f.length for f in self.fixed)

    @cached_property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(v.code for v in self.variable if v.required)


# --------------------------------------------------------------------------
# Variable-length fields
# --------------------------------------------------------------------------

def _field(code: str, name: str, *, repeatable: bool = False, extension: bool = False) -> FieldSpec:
    return FieldSpec(code, name, repeatable, extension)


_FIELD_LIST = [
    _field("AA", "patron identifier"),
    _field("AB", "item identifier"),
    _field("AC", "terminal password"),
    _field("AD", "patron password"),
    _field("AE", "personal name"),
    _field("AF", "screen message", repeatable=True),
    _field("AG", "print line", repeatable=True),
    _field("AH", "due date"),
    _field("AJ", "title identifier"),
    _field("AL", "blocked card msg"),
    _field("AM", "library name"),
    _field("AN", "terminal location"),
    _field("AO", "institution id"),
    _field("AP", "current location"),
    _field("AQ", "permanent location"),
    _field("AS", "hold items", repeatable=True),
    _field("AT", "overdue items", repeatable=True),
    _field("AU", "charged items", repeatable=True),
    _field("AV", "fine items", repeatable=True),
    _field("AY", "sequence number"),
    _field("AZ", "checksum"),
    _field("BD", "home address"),
    _field("BE", "e-mail address"),
    _field("BF", "home phone number"),
    _field("BG", "owner"),
    _field("BH", "currency type"),
    _field("BI", "cancel"),
    _field("BK", "transaction id"),
    _field("BL", "valid patron"),
    _field("BM", "renewed items", repeatable=True),
    _field("BN", "unrenewed items", repeatable=True),
    _field("BO", "fee acknowledged"),
    _field("BP", "start item"),
    _field("BQ", "end item"),
    _field("BR", "queue position"),
    _field("BS", "pickup location"),
    _field("BT", "fee type"),
    _field("BU", "recall items", repeatable=True),
    _field("BV", "fee amount"),
    _field("BW", "expiration date"),
    _field("BX", "supported messages"),
    _field("BY", "hold type"),
    _field("BZ", "hold items limit"),
    _field("CA", "overdue items limit"),
    _field("CB", "charged items limit"),
    _field("CC", "fee limit"),
    _field("CD", "unavailable hold items", repeatable=True),
    _field("CF", "hold queue length"),
    _field("CG", "fee identifier"),
    _field("CH", "item properties"),
    _field("CI", "security inhibit"),
    _field("CJ", "recall date"),
    _field("CK", "media type"),
    _field("CL", "sort bin"),
    _field("CM", "hold pickup date"),
    _field("CN", "login user id"),
    _field("CO", "login password"),
    _field("CP", "location code"),
    _field("CQ", "valid patron password"),
    # Widely used vendor extensions (3M/Bibliotheca, Koha, Evergreen); accepted
    # like any unknown field, named here so logs and handlers can refer to them.
    _field("CR", "collection code", extension=True),
    _field("CS", "call number", extension=True),
    _field("CT", "destination location", extension=True),
    _field("CV", "alert type", extension=True),
    _field("CY", "hold patron id", extension=True),
    _field("DA", "hold patron name", extension=True),
    _field("PB", "birth date", extension=True),
    _field("PC", "patron class", extension=True),
]

FIELDS: dict[str, FieldSpec] = {f.code: f for f in _FIELD_LIST}

SEQUENCE_NUMBER = "AY"
CHECKSUM = "AZ"

SECRET_FIELDS = frozenset({"AC", "AD", "CN", "CO"})
"""Fields masked in logs: terminal password, patron PIN, login user id and password."""


def field_name(code: str) -> str:
    """The spec's name for a field identifier, or ``unknown field XX`` for vendor codes."""
    spec = FIELDS.get(code)
    return spec.name if spec else f"unknown field {code}"


class F:
    """Readable names for field identifiers: ``F.PATRON_IDENTIFIER == "AA"``."""


for _spec in _FIELD_LIST:
    setattr(F, _spec.name.upper().replace("-", "").replace(" ", "_"), _spec.code)


# --------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------

def _flag(name: str) -> FixedField:
    return FixedField(name, 1, Kind.FLAG)


def _number(name: str, length: int) -> FixedField:
    return FixedField(name, length, Kind.NUMBER)


def _text(name: str, length: int) -> FixedField:
    return FixedField(name, length, Kind.TEXT)


def _date(name: str) -> FixedField:
    return FixedField(name, DATE_LENGTH, Kind.DATE)


def _fields(required: str = "", optional: str = "", *, order: str) -> tuple[VariableField, ...]:
    """Variable fields in spec order; ``order`` lists every code, ``required`` the mandatory ones."""
    codes = order.split()
    req = set(required.split())
    opt = set(optional.split()) if optional else set(codes) - req
    assert req | opt == set(codes), (req, opt, codes)
    return tuple(VariableField(c, c in req) for c in codes)


TRANSACTION_DATE = _date("transaction_date")
PATRON_STATUS = _text("patron_status", 14)
LANGUAGE = _number("language", 3)

_MESSAGE_LIST = [
    # --- login ---------------------------------------------------------------
    MessageSpec("93", "Login", (_flag("uid_algorithm"), _flag("pwd_algorithm")),
                _fields("CN CO", order="CN CO CP"), "94"),
    MessageSpec("94", "Login Response", (_flag("ok"),), ()),
    # --- status ----------------------------------------------------------------
    MessageSpec("99", "SC Status",
                (_flag("status_code"), _number("max_print_width", 3), _text("protocol_version", 4)),
                (), "98"),
    MessageSpec("98", "ACS Status",
                (_flag("online_status"), _flag("checkin_ok"), _flag("checkout_ok"),
                 _flag("acs_renewal_policy"), _flag("status_update_ok"), _flag("offline_ok"),
                 _number("timeout_period", 3), _number("retries_allowed", 3),
                 _date("date_time_sync"), _text("protocol_version", 4)),
                _fields("AO BX", order="AO AM BX AN AF AG")),
    # --- patron status ---------------------------------------------------------
    MessageSpec("23", "Patron Status Request", (LANGUAGE, TRANSACTION_DATE),
                _fields("AO AA AC AD", order="AO AA AC AD"), "24"),
    MessageSpec("24", "Patron Status Response", (PATRON_STATUS, LANGUAGE, TRANSACTION_DATE),
                _fields("AO AA AE", order="AO AA AE BL CQ BH BV AF AG")),
    MessageSpec("01", "Block Patron", (_flag("card_retained"), TRANSACTION_DATE),
                _fields("AO AL AA AC", order="AO AL AA AC"), "24"),
    # --- patron information ------------------------------------------------------
    MessageSpec("63", "Patron Information", (LANGUAGE, TRANSACTION_DATE, _text("summary", 10)),
                _fields("AO AA", order="AO AA AC AD BP BQ"), "64"),
    MessageSpec("64", "Patron Information Response",
                (PATRON_STATUS, LANGUAGE, TRANSACTION_DATE,
                 _number("hold_items_count", 4), _number("overdue_items_count", 4),
                 _number("charged_items_count", 4), _number("fine_items_count", 4),
                 _number("recall_items_count", 4), _number("unavailable_holds_count", 4)),
                _fields("AO AA AE",
                        order="AO AA AE BZ CA CB BL CQ BH BV CC AS AT AU AV BU CD BD BE BF AF AG")),
    # --- checkout / checkin ------------------------------------------------------
    MessageSpec("11", "Checkout",
                (_flag("sc_renewal_policy"), _flag("no_block"), TRANSACTION_DATE, _date("nb_due_date")),
                _fields("AO AA AB AC", order="AO AA AB AC CH AD BO BI"), "12"),
    MessageSpec("12", "Checkout Response",
                (_flag("ok"), _flag("renewal_ok"), _flag("magnetic_media"), _flag("desensitize"),
                 TRANSACTION_DATE),
                _fields("AO AA AB AJ AH", order="AO AA AB AJ AH BT CI BH BV CK CH BK AF AG")),
    MessageSpec("09", "Checkin", (_flag("no_block"), TRANSACTION_DATE, _date("return_date")),
                _fields("AP AO AB AC", order="AP AO AB AC CH BI"), "10"),
    MessageSpec("10", "Checkin Response",
                (_flag("ok"), _flag("resensitize"), _flag("magnetic_media"), _flag("alert"),
                 TRANSACTION_DATE),
                _fields("AO AB AQ", order="AO AB AQ AJ CL AA CK CH AF AG")),
    # --- items ---------------------------------------------------------------------
    MessageSpec("17", "Item Information", (TRANSACTION_DATE,),
                _fields("AO AB", order="AO AB AC"), "18"),
    MessageSpec("18", "Item Information Response",
                (_number("circulation_status", 2), _number("security_marker", 2),
                 _number("fee_type", 2), TRANSACTION_DATE),
                _fields("AB AJ", order="CF AH CJ CM AB AJ BG BH BV CK AQ AP CH AF AG")),
    MessageSpec("19", "Item Status Update", (TRANSACTION_DATE,),
                _fields("AO AB CH", order="AO AB AC CH"), "20"),
    MessageSpec("20", "Item Status Update Response", (_flag("item_properties_ok"), TRANSACTION_DATE),
                _fields("AB", order="AB AJ CH AF AG")),
    # --- patron enable / end session ---------------------------------------------------
    MessageSpec("25", "Patron Enable", (TRANSACTION_DATE,),
                _fields("AO AA", order="AO AA AC AD"), "26"),
    MessageSpec("26", "Patron Enable Response", (PATRON_STATUS, LANGUAGE, TRANSACTION_DATE),
                _fields("AO AA AE", order="AO AA AE BL CQ AF AG")),
    MessageSpec("35", "End Patron Session", (TRANSACTION_DATE,),
                _fields("AO AA", order="AO AA AC AD"), "36"),
    MessageSpec("36", "End Session Response", (_flag("end_session"), TRANSACTION_DATE),
                _fields("AO AA", order="AO AA AF AG")),
    # --- money ------------------------------------------------------------------------
    MessageSpec("37", "Fee Paid",
                (TRANSACTION_DATE, _number("fee_type", 2), _number("payment_type", 2),
                 _text("currency_type", 3)),
                _fields("BV AO AA", order="BV AO AA AC AD CG BK"), "38"),
    MessageSpec("38", "Fee Paid Response", (_flag("payment_accepted"), TRANSACTION_DATE),
                _fields("AO AA", order="AO AA BK AF AG")),
    # --- holds and renewals --------------------------------------------------------------
    MessageSpec("15", "Hold", (_flag("hold_mode"), TRANSACTION_DATE),
                _fields("AO AA", order="BW BS BY AO AA AD AB AJ AC BO"), "16"),
    MessageSpec("16", "Hold Response", (_flag("ok"), _flag("available"), TRANSACTION_DATE),
                _fields("AO AA", order="BW BR BS AO AA AB AJ AF AG")),
    MessageSpec("29", "Renew",
                (_flag("third_party_allowed"), _flag("no_block"), TRANSACTION_DATE, _date("nb_due_date")),
                _fields("AO AA", order="AO AA AD AB AJ AC CH BO"), "30"),
    MessageSpec("30", "Renew Response",
                (_flag("ok"), _flag("renewal_ok"), _flag("magnetic_media"), _flag("desensitize"),
                 TRANSACTION_DATE),
                _fields("AO AA AB AJ AH", order="AO AA AB AJ AH BT CI BH BV CK CH BK AF AG")),
    MessageSpec("65", "Renew All", (TRANSACTION_DATE,),
                _fields("AO AA", order="AO AA AD AC BO"), "66"),
    MessageSpec("66", "Renew All Response",
                (_flag("ok"), _number("renewed_count", 4), _number("unrenewed_count", 4), TRANSACTION_DATE),
                _fields("AO", order="AO BM BN AF AG")),
    # --- error recovery -----------------------------------------------------------------
    MessageSpec("97", "Request ACS Resend", (), ()),
    MessageSpec("96", "Request SC Resend", (), ()),
]

MESSAGES: dict[str, MessageSpec] = {m.id: m for m in _MESSAGE_LIST}

REQUEST_ACS_RESEND = "97"
REQUEST_SC_RESEND = "96"


# --------------------------------------------------------------------------
# Code tables
# --------------------------------------------------------------------------

CIRCULATION_STATUS = {
    "01": "other",
    "02": "on order",
    "03": "available",
    "04": "charged",
    "05": "charged; not to be recalled until earliest recall date",
    "06": "in process",
    "07": "recalled",
    "08": "waiting on hold shelf",
    "09": "waiting to be re-shelved",
    "10": "in transit between library locations",
    "11": "claimed returned",
    "12": "lost",
    "13": "missing",
}

SECURITY_MARKER = {"00": "other", "01": "none", "02": "3M Tattle-Tape", "03": "3M Whisper Tape"}

FEE_TYPE = {
    "01": "other/unknown",
    "02": "administrative",
    "03": "damage",
    "04": "overdue",
    "05": "processing",
    "06": "rental",
    "07": "replacement",
    "08": "computer access charge",
    "09": "hold fee",
}

PAYMENT_TYPE = {"00": "cash", "01": "VISA", "02": "credit card"}

MEDIA_TYPE = {
    "000": "other",
    "001": "book",
    "002": "magazine",
    "003": "bound journal",
    "004": "audio tape",
    "005": "video tape",
    "006": "CD/CDROM",
    "007": "diskette",
    "008": "book with diskette",
    "009": "book with CD",
    "010": "book with audio tape",
}

SC_STATUS_CODE = {"0": "SC unit is OK", "1": "SC printer is out of paper", "2": "SC is about to shut down"}

HOLD_MODE = {"+": "add", "-": "delete", "*": "change"}

HOLD_TYPE = {
    "1": "other",
    "2": "any copy of a title",
    "3": "a specific copy of a title",
    "4": "any copy at a single branch or sublocation",
}

PATRON_STATUS_FLAGS = (
    "charge privileges denied",
    "renewal privileges denied",
    "recall privileges denied",
    "hold privileges denied",
    "card reported lost",
    "too many items charged",
    "too many items overdue",
    "too many renewals",
    "too many claims of items returned",
    "too many items lost",
    "excessive outstanding fines",
    "excessive outstanding fees",
    "recall overdue",
    "too many items billed",
)
"""Positions of the 14-character patron status field: ``Y`` where it applies, blank where not."""

SUMMARY_POSITIONS = (
    "hold items",
    "overdue items",
    "charged items",
    "fine items",
    "recall items",
    "unavailable holds",
)
"""Positions of the 10-character summary field of message 63 (the rest are blank).

Which list field of message 64 answers each position: AS, AT, AU, AV, BU, CD.
"""
SUMMARY_FIELDS = ("AS", "AT", "AU", "AV", "BU", "CD")

SUPPORTED_MESSAGES = (
    "23",  # patron status request
    "11",  # checkout
    "09",  # checkin
    "01",  # block patron
    "99",  # SC/ACS status
    "97",  # request SC/ACS resend
    "93",  # login
    "63",  # patron information
    "35",  # end patron session
    "37",  # fee paid
    "17",  # item information
    "19",  # item status update
    "25",  # patron enable
    "15",  # hold
    "29",  # renew
    "65",  # renew all
)
"""Request ids in the order of the 16 positions of the BX (supported messages) field."""


def flag_string(positions: tuple[str, ...], chosen: set[str] | frozenset[str], width: int, false: str) -> str:
    """Render a positional flag field: ``Y`` at each chosen position, ``false`` elsewhere."""
    unknown = set(chosen) - set(positions)
    if unknown:
        raise ValueError(f"unknown positions: {sorted(unknown)}")
    return "".join("Y" if p in chosen else false for p in positions).ljust(width, false)


def patron_status(*denied: str) -> str:
    """The 14-character patron status field: ``Y`` at each named flag, blank elsewhere."""
    return flag_string(PATRON_STATUS_FLAGS, set(denied), 14, " ")


def supported_messages(request_ids: set[str] | frozenset[str]) -> str:
    """The 16-character BX field value (Y/N per position) for the request ids the server answers."""
    return _supported_messages(frozenset(request_ids))


@functools.lru_cache(maxsize=256)
def _supported_messages(request_ids: frozenset[str]) -> str:
    """Remembered: every 99 a kiosk sends asks for its terminal's few combinations again."""
    return flag_string(SUPPORTED_MESSAGES, request_ids, len(SUPPORTED_MESSAGES), "N")


def summary_requests(summary: str) -> tuple[str, ...]:
    """The list fields (AS, AT, ...) that a 63 summary asks for (``Y`` at their position)."""
    return tuple(code for flag, code in zip(summary, SUMMARY_FIELDS, strict=False) if flag.upper() == "Y")
