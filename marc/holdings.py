"""Holdings: items read from, and written back to, MARC holdings fields.

A ``HoldingsMapping`` (one YAML file per library; ``marc21`` and ``koha952``
ship in ``marc/mappings/``) says which fields hold items and which subfield
holds each item attribute.  ``items_of_record`` turns a bibliographic record
into ``Item`` carrying everything the policy engine matches on: material
type, collection, language, classification, publication year and price.
``holdings_fields`` does the reverse for export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pymarc
import yaml

from ils_bridge import money
from ils_bridge.services.catalogue import Item
from marc.reading import DIRECTORY_ENTRY_LENGTH, FIELD_TERMINATOR, LEADER_LENGTH, RECORD_TERMINATOR

MAPPINGS_DIR = Path(__file__).parent / "mappings"
ITEM_ATTRIBUTES = (
    "barcode",
    "branch",
    "location",
    "collection",
    "call_number",
    "item_type",
    "price",
    "copy_number",
    "volume",
)
# MARC21 leader/06 (type of record) and 06-07 (with bibliographic level) -> material.
LEADER_MATERIALS: dict[str, str] = {
    "am": "book",
    "aa": "book",
    "ac": "book",
    "as": "serial",
    "ab": "serial",
    "ai": "serial",
    "t": "manuscript",
    "e": "map",
    "f": "map",
    "c": "score",
    "d": "score",
    "i": "audio",
    "j": "audio",
    "g": "video",
    "k": "image",
    "m": "electronic",
    "o": "kit",
    "p": "mixed",
    "r": "object",
}
LINK_SUBFIELD = "8"  # MARC21 field link and sequence number: "1.2" -> link 1


class MappingError(ValueError):
    """A holdings mapping file that cannot be used."""


@dataclass(frozen=True)
class SubfieldSource:
    """Where one item attribute lives: subfield codes of the item or the location field."""

    codes: tuple[str, ...]
    in_location: bool = False


@dataclass(frozen=True)
class HoldingsMapping:
    name: str
    item_tags: tuple[str, ...]
    attributes: dict[str, SubfieldSource]
    location_tag: str | None = None
    item_types: dict[str, str] = field(default_factory=dict)
    leader_materials: dict[str, str] = field(default_factory=lambda: dict(LEADER_MATERIALS))
    default_material: str = "book"
    classification: tuple[str, ...] = ("050", "060", "082", "084")
    currency: str | None = None  # of bare prices; else the library's

    @property
    def holdings_tags(self) -> tuple[str, ...]:
        return self.item_tags + ((self.location_tag,) if self.location_tag else ())

    @classmethod
    def load(cls, name_or_path: str | Path) -> HoldingsMapping:
        """A shipped mapping by name ("marc21", "koha952") or a YAML file by path."""
        path = Path(name_or_path)
        if not path.suffix:
            path = MAPPINGS_DIR / f"{name_or_path}.yaml"
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise MappingError(f"cannot read holdings mapping {path}: {exc}") from exc
        return cls.from_dict(document, source=str(path))

    @classmethod
    def from_dict(cls, document: object, source: str = "mapping") -> HoldingsMapping:
        if not isinstance(document, dict) or not document.get("item_tags") or not document.get("attributes"):
            raise MappingError(f"{source}: needs 'item_tags' and 'attributes'")
        unknown = set(document["attributes"]) - set(ITEM_ATTRIBUTES)
        if unknown:
            raise MappingError(f"{source}: unknown item attributes {sorted(unknown)}; known: {ITEM_ATTRIBUTES}")
        if "barcode" not in document["attributes"]:
            raise MappingError(f"{source}: 'barcode' must be mapped")
        return cls(
            name=str(document.get("name", source)),
            item_tags=tuple(str(tag) for tag in document["item_tags"]),
            location_tag=str(document["location_tag"]) if document.get("location_tag") else None,
            attributes={name: _source(spec) for name, spec in document["attributes"].items()},
            item_types={str(k): str(v) for k, v in (document.get("item_types") or {}).items()},
            leader_materials=dict(document.get("leader_materials") or LEADER_MATERIALS),
            default_material=str(document.get("default_material", "book")),
            classification=tuple(document.get("classification", cls.classification)),
            currency=document.get("currency"),
        )


def _source(spec: object) -> SubfieldSource:
    """'p', ['h', 'i'] or {location: 'b'} -> SubfieldSource."""
    in_location = isinstance(spec, dict)
    codes = spec["location"] if in_location else spec
    codes = (codes,) if isinstance(codes, (str, int)) else codes
    return SubfieldSource(tuple(str(code) for code in codes), in_location)


@dataclass(frozen=True)
class Price:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class BibAttributes:
    """What items inherit from their bibliographic record."""

    language: str | None
    classification: str | None
    pub_year: int | None
    price: Price | None


# --- prices ---------------------------------------------------------------

_CURRENCY_SIGNS = {
    "$": "USD",
    "US$": "USD",
    "¥": "CNY",
    "￥": "CNY",
    "元": "CNY",
    "RMB": "CNY",
    "₫": "VND",
    "đ": "VND",
    "VNĐ": "VND",
    "VNĐ.": "VND",
    "£": "GBP",
    "€": "EUR",
    "円": "JPY",
}
_NUMBER = re.compile(r"\d[\d.,  ]*\d|\d")
_CODE = re.compile(r"(?<![A-Za-z])[A-Za-z]{3}(?![A-Za-z])")


def parse_price(text: str, default_currency: str | None) -> Price | None:
    """A price from free text: "CNY45.00", "¥38", "120.000 ₫", "$12.95 (pbk.)", "45.00".

    Returns None when there is no number or the currency is unknown.
    """
    number = _NUMBER.search(text)
    if not number:
        return None
    currency_code = _currency_in(text.replace(number.group(), " ")) or default_currency
    if not currency_code or currency_code.upper() not in money.MINOR_UNITS:
        return None
    cur = money.currency(currency_code)
    amount = _decimal(number.group(), cur.minor_units)
    if amount is None:
        return None
    try:
        return Price(money.round_to(amount, cur), cur.code)
    except InvalidOperation:  # more digits than a decimal amount holds: no price, not a crash
        return None


def _currency_in(text: str) -> str | None:
    for code in _CODE.findall(text):
        if code.upper() in money.MINOR_UNITS:
            return code.upper()
    for sign in sorted(_CURRENCY_SIGNS, key=len, reverse=True):
        if sign in text:
            return _CURRENCY_SIGNS[sign]
    return None


def _decimal(digits: str, minor_units: int) -> Decimal | None:
    """Read grouping and decimal separators: the last separator is decimal unless 3 digits follow it."""
    digits = re.sub(r"[  ]", "", digits)
    last = max(digits.rfind("."), digits.rfind(","))
    if last == -1 or len(digits) - last - 1 == 3 or (minor_units == 0 and digits.count(digits[last]) > 1):
        whole, fraction = digits, ""
    else:
        whole, fraction = digits[:last], digits[last + 1 :]
    whole = re.sub(r"[.,]", "", whole)
    try:
        return Decimal(f"{whole}.{fraction}" if fraction else whole)
    except InvalidOperation:
        return None


# --- bibliographic attributes ----------------------------------------------

_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")


def bib_attributes(record: pymarc.Record, mapping: HoldingsMapping, default_currency: str | None) -> BibAttributes:
    return BibAttributes(
        language=record_language(record),
        classification=record_classification(record, mapping.classification),
        pub_year=publication_year(record),
        price=record_price(record, default_currency),
    )


def record_language(record: pymarc.Record) -> str | None:
    """008/35-37, else the first 041 $a."""
    fixed = record.get("008")
    code = fixed.data[35:38] if fixed else ""
    if len(code) == 3 and code.isalpha():
        return code.lower()
    for value in _values(record, "041", "a"):
        if len(value) >= 3 and value[:3].isalpha():
            return value[:3].lower()
    return None


def record_classification(record: pymarc.Record, order: tuple[str, ...]) -> str | None:
    """The first class number found, trying "TAG" or "TAG:scheme" (084 $2) in order."""
    for spec in order:
        tag, _, scheme = spec.partition(":")
        for field_ in record.get_fields(tag):
            if scheme and scheme.lower() not in (s.lower() for s in field_.get_subfields("2")):
                continue
            numbers = field_.get_subfields("a")
            if numbers and numbers[0].strip():
                return numbers[0].replace("/", "").strip()[:64]
    return None


def publication_year(record: pymarc.Record) -> int | None:
    """008/07-10, else the first year in 264 $c or 260 $c."""
    fixed = record.get("008")
    if fixed and fixed.data[7:11].isdigit():
        return int(fixed.data[7:11])
    for tag in ("264", "260"):
        for value in _values(record, tag, "c"):
            year = _YEAR.search(value)
            if year:
                return int(year.group())
    return None


def record_price(record: pymarc.Record, default_currency: str | None) -> Price | None:
    """365 $b (with $c currency), else 020 $c."""
    for field_ in record.get_fields("365"):
        amount = field_.get("b")
        if amount:
            price = parse_price(amount, field_.get("c") or default_currency)
            if price:
                return price
    for value in _values(record, "020", "c"):
        price = parse_price(value, default_currency)
        if price:
            return price
    return None


def _values(record: pymarc.Record, tag: str, code: str) -> list[str]:
    return [value for field_ in record.get_fields(tag) for value in field_.get_subfields(code)]


# --- items ------------------------------------------------------------------


def items_of_record(record: pymarc.Record, mapping: HoldingsMapping, default_currency: str | None) -> list[Item]:
    """The items held in a record's holdings fields; fields without a barcode are skipped."""
    fields = _item_fields(record, mapping)
    if not fields:  # most records of a bibliographic load: no need for what items inherit
        return []
    bib = bib_attributes(record, mapping, default_currency)
    currency = mapping.currency or default_currency
    items = []
    for item_field, location_field in fields:
        values = {name: _read(source, item_field, location_field) for name, source in mapping.attributes.items()}
        barcode = values.pop("barcode")
        if not barcode:
            continue
        item_type = values.pop("item_type", None)
        price_text = values.pop("price", None)
        price = (parse_price(price_text, currency) if price_text else None) or bib.price
        items.append(
            Item(
                barcode=barcode[:64],
                material=_material(item_type, record, mapping),
                language=bib.language,
                classification=bib.classification,
                pub_year=bib.pub_year,
                price=price.amount if price else None,
                currency=price.currency if price else None,
                **values,
            )
        )
    return items


def _item_fields(record: pymarc.Record, mapping: HoldingsMapping) -> list[tuple[pymarc.Field, pymarc.Field | None]]:
    """Pairs of (item field, its location field)."""
    locations = record.get_fields(mapping.location_tag) if mapping.location_tag else []
    by_link = {_link(location): location for location in locations if _link(location)}
    pairs = [
        (item, by_link.get(_link(item)) or (locations[0] if locations else None))
        for item in record.get_fields(*mapping.item_tags)
    ]
    linked = {id(location) for _, location in pairs}
    barcode = mapping.attributes["barcode"]
    pairs += [  # a location field that is an item by itself
        (location, location)
        for location in locations
        if id(location) not in linked and not barcode.in_location and location.get(barcode.codes[0])
    ]
    return pairs


def _link(field_: pymarc.Field) -> str | None:
    link = field_.get(LINK_SUBFIELD)
    return link.split(".")[0].split("\\")[0] if link else None


def _read(source: SubfieldSource, item: pymarc.Field, location: pymarc.Field | None) -> str | None:
    field_ = location if source.in_location else item
    if field_ is None:
        return None
    parts = [value.strip() for code in source.codes for value in field_.get_subfields(code) if value.strip()]
    return " ".join(parts) or None


def _material(item_type: str | None, record: pymarc.Record, mapping: HoldingsMapping) -> str:
    if item_type:
        return mapping.item_types.get(item_type, item_type)[:64]
    leader = str(record.leader)
    return (
        mapping.leader_materials.get(leader[6:8]) or mapping.leader_materials.get(leader[6]) or mapping.default_material
    )


def without_holdings(record: pymarc.Record, mapping: HoldingsMapping) -> pymarc.Record:
    """The record less its holdings fields: a copy, or the record itself when it has none
    (most records of a bibliographic load; neither is changed afterwards)."""
    holdings_tags = mapping.holdings_tags
    fields = [f for f in record.fields if f.tag not in holdings_tags]
    if len(fields) == len(record.fields):
        return record
    bare = pymarc.Record()
    bare.leader = pymarc.Leader(str(record.leader))
    bare.fields = fields
    return bare


def iso2709_without_holdings(raw: bytes, mapping: HoldingsMapping) -> bytes:
    """``without_holdings(record).as_marc()`` computed on the record's UTF-8 ISO 2709 bytes.

    Copies the other fields' bytes and rewrites the directory, the record
    length and the base address (leader/09 becomes ``a``): an import stores
    this instead of serialising every decoded record again.  ``raw`` must be
    a record the reader accepted (its directory is sound).
    """
    drop = {tag.encode("ascii") for tag in mapping.holdings_tags}
    base = int(raw[12:17])
    directory, data, offset = [], [], 0
    for entry in range(LEADER_LENGTH, base - 1, DIRECTORY_ENTRY_LENGTH):
        tag = raw[entry : entry + 3]
        if tag in drop:
            continue
        length, start = int(raw[entry + 3 : entry + 7]), int(raw[entry + 7 : entry + 12])
        data.append(raw[base + start : base + start + length])
        directory.append(b"%s%04d%05d" % (tag, length, offset))
        offset += length
    new_base = LEADER_LENGTH + DIRECTORY_ENTRY_LENGTH * len(directory) + 1
    leader = b"%05d%sa%s%05d%s" % (new_base + offset + 1, raw[5:9], raw[10:12], new_base, raw[17:LEADER_LENGTH])
    return b"".join([leader, *directory, FIELD_TERMINATOR, *data, RECORD_TERMINATOR])


# --- export -------------------------------------------------------------------


def holdings_fields(items: list[Item], mapping: HoldingsMapping, default_currency: str | None) -> list[pymarc.Field]:
    """Holdings fields for export: one item field per item (plus, with a location tag, a linked location field).

    Prices in ``default_currency`` are written as bare amounts (what Koha
    expects in 952 $g); others carry their currency code ("120000VND").
    """
    fields: list[pymarc.Field] = []
    codes_of_type = {material: code for code, material in reversed(list(mapping.item_types.items()))}
    for number, item in enumerate(items, start=1):
        values = _item_values(item, codes_of_type, default_currency)
        link = [pymarc.Subfield(LINK_SUBFIELD, str(number))] if mapping.location_tag else []
        item_subfields = link + _subfields(values, mapping, in_location=False)
        if mapping.location_tag:
            fields.append(
                pymarc.Field(
                    mapping.location_tag, pymarc.Indicators(" ", " "), link + _subfields(values, mapping, True)
                )
            )
        fields.append(pymarc.Field(mapping.item_tags[0], pymarc.Indicators(" ", " "), item_subfields))
    return fields


def _item_values(item: Item, codes_of_type: dict[str, str], default_currency: str | None) -> dict[str, str | None]:
    values = {name: getattr(item, name, None) for name in ITEM_ATTRIBUTES if hasattr(item, name)}
    values["item_type"] = codes_of_type.get(item.material, item.material)
    values["price"] = None
    if item.price is not None:
        values["price"] = f"{item.price}" if item.currency == default_currency else f"{item.price}{item.currency}"
    return values


def _subfields(values: dict[str, str | None], mapping: HoldingsMapping, in_location: bool) -> list[pymarc.Subfield]:
    subfields = []
    for name, source in mapping.attributes.items():
        value = values.get(name)
        if value and source.in_location == in_location:
            # an attribute read from several subfields (852 $h $i) goes back whole into the first
            subfields.append(pymarc.Subfield(source.codes[0], str(value)))
    return subfields
