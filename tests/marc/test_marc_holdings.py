from __future__ import annotations

from decimal import Decimal

import pytest
from pymarc import Field, Indicators, Subfield

from marc.holdings import (
    HoldingsMapping,
    MappingError,
    holdings_fields,
    iso2709_without_holdings,
    items_of_record,
    parse_price,
    record_classification,
    without_holdings,
)
from marc.reading import read_records


def sample(data, name):
    return [r.record for r in read_records(data / name)]


@pytest.mark.parametrize(
    ("text", "default", "amount", "currency"),
    [
        ("CNY89.00", None, "89.00", "CNY"),
        ("¥38", None, "38.00", "CNY"),
        ("38.50元", None, "38.50", "CNY"),
        ("120.000 ₫", None, "120000", "VND"),
        ("120.000 VND", None, "120000", "VND"),
        ("$12.95 (pbk.)", None, "12.95", "USD"),
        ("1,250.50 USD", None, "1250.50", "USD"),
        ("1.250,50 EUR", None, "1250.50", "EUR"),
        ("45", "CNY", "45.00", "CNY"),
        ("120000", "VND", "120000", "VND"),
    ],
)
def test_parse_price(text, default, amount, currency):
    price = parse_price(text, default)
    assert (price.amount, price.currency) == (Decimal(amount), currency)


@pytest.mark.parametrize("text", ["free", "45 XYZ", "pbk.", "1" + "0" * 40 + " USD"])
def test_unparseable_price_is_none(text):
    assert parse_price(text, None) is None


def test_koha_952_items_with_policy_attributes(data):
    mapping = HoldingsMapping.load("koha952")
    chinese, vietnamese = sample(data, "unicode_952.mrc")
    first, second = items_of_record(chinese, mapping, "CNY")
    assert (first.barcode, first.branch, first.location, first.call_number) == (
        "C0000001",
        "MAIN",
        "STACKS",
        "TP312/Z78",
    )
    assert (first.material, second.material) == ("book", "reference")
    assert (first.collection, first.copy_number, second.copy_number) == ("GEN", "1", "2")
    assert (first.language, first.classification, first.pub_year) == ("chi", "TP312", 2022)
    assert (first.price, first.currency) == (Decimal("89.00"), "CNY")
    assert (second.price, second.currency) == (Decimal("89.00"), "CNY")  # no 952 $g: 365 $b of the record
    (item,) = items_of_record(vietnamese, mapping, "VND")
    assert (item.language, item.classification, item.pub_year) == ("vie", "895.9223", 2021)
    assert (item.price, item.currency) == (Decimal("120000"), "VND")


def test_marc21_852_876_items_linked_by_field_link(data):
    mapping = HoldingsMapping.load("marc21")
    chinese, vietnamese = sample(data, "unicode_852.mrc")
    first, second = items_of_record(chinese, mapping, "CNY")
    assert (first.barcode, first.branch, first.location, first.call_number) == (
        "C0000001",
        "MAIN",
        "STACKS",
        "TP312 Z78",
    )
    assert (second.barcode, second.branch, second.location) == ("C0000002", "EAST", "REF")
    assert first.material == "book"  # leader/06-07 "am"
    assert (first.price, first.currency) == (Decimal("89.00"), "CNY")
    (item,) = items_of_record(vietnamese, mapping, "VND")
    assert (item.barcode, item.price, item.currency) == ("V0000001", Decimal("120000"), "VND")


def test_clc_classification_preferred_by_koha_mapping(data):
    record = sample(data, "unicode_952.mrc")[0]
    record.add_ordered_field(Field("050", Indicators("0", "0"), [Subfield("a", "Q325.5"), Subfield("b", ".Z46")]))
    assert items_of_record(record, HoldingsMapping.load("koha952"), "CNY")[0].classification == "TP312"
    assert record_classification(record, HoldingsMapping.load("marc21").classification) == "Q325.5"
    record["084"]["2"] = "udc"  # an 084 that is not CLC is only a last resort
    assert record_classification(record, HoldingsMapping.load("koha952").classification) == "Q325.5"


def test_language_falls_back_to_041_and_year_to_264(data):
    record = sample(data, "unicode_952.mrc")[0]
    record["008"].data = record["008"].data[:7] + "uuuu" + record["008"].data[11:35] + "   " + record["008"].data[38:]
    item = items_of_record(record, HoldingsMapping.load("koha952"), "CNY")[0]
    assert (item.language, item.pub_year) == ("chi", 2022)


def test_holdings_fields_removed_from_bib_and_rebuilt(data):
    mapping = HoldingsMapping.load("marc21")
    record = sample(data, "unicode_852.mrc")[0]
    bare = without_holdings(record, mapping)
    assert not bare.get_fields("852", "876") and bare["245"]["a"] == record["245"]["a"]
    items = items_of_record(record, mapping, "CNY")
    rebuilt = bare
    for field in holdings_fields(items, mapping, "CNY"):
        rebuilt.add_ordered_field(field)
    assert items_of_record(rebuilt, mapping, "CNY") == items


def test_mapping_file_errors_are_specific(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("item_tags: ['999']\nattributes: {shelf: a}\n")
    with pytest.raises(MappingError, match="unknown item attributes"):
        HoldingsMapping.load(bad)
    bad.write_text("item_tags: ['999']\nattributes: {branch: a}\n")
    with pytest.raises(MappingError, match="barcode"):
        HoldingsMapping.load(bad)


def test_custom_mapping_file(tmp_path, data):
    custom = tmp_path / "mine.yaml"
    custom.write_text(
        "name: mine\nitem_tags: ['952']\nattributes: {barcode: p, branch: a, item_type: y}\n"
        "item_types: {BK: monograph}\ncurrency: CNY\n"
    )
    items = items_of_record(sample(data, "unicode_952.mrc")[0], HoldingsMapping.load(custom), None)
    assert [(i.barcode, i.material, i.location) for i in items] == [
        ("C0000001", "monograph", None),
        ("C0000002", "REF", None),
    ]


@pytest.mark.parametrize(
    ("sample_file", "mapping_name"),
    [("unicode_852.mrc", "marc21"), ("unicode_952.mrc", "koha952"), ("loc_books.mrc", "marc21")],
)
def test_holdings_cut_from_the_bytes_read_as_from_the_record(data, sample_file, mapping_name):
    mapping = HoldingsMapping.load(mapping_name)
    results = [r for r in read_records(data / sample_file) if r.record]
    assert results and all(r.raw for r in results)
    for result in results:
        expected = without_holdings(result.record, mapping).as_marc()
        assert iso2709_without_holdings(result.raw, mapping) == expected
