"""The fast paths of ``normalize`` (one translate table for the combining
marks, regular expressions for words and CJK runs), ``index.index_texts``
(every value of a record folded in one call, tokens joined without lists) and
``fields.extract`` (one pass over the fields) give exactly what the plain
definitions below give: a per-character fold, a per-word CJK split, one scan
of the record per index.  Checked on the test MARC files and on generated
Chinese, Vietnamese and English text and records."""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pymarc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marc.reading import read_records
from marc.search.fields import (
    ANY_EXCLUDED,
    INDEX_FIELDS,
    extract,
    language,
    material_type,
    publication_year,
)
from marc.search.index import index_texts
from marc.search.normalize import (
    _ASTRAL_MARKS,
    _BMP_MARKS,
    _EXTRA_FOLDS,
    _WORD,
    VALUE_END,
    VALUE_START,
    fold,
    identifier,
    is_cjk,
    tokens,
)
from marc.search.query import PHRASE_INDEXES, Index

DATA = Path(__file__).parent.parent / "data" / "marc"
MARC_FILES = ["loc_books.mrc", "loc_books.xml", "loc_books.json", "unicode_852.mrc", "unicode_952.mrc", "marc8.mrc"]


# -- the reference definitions ------------------------------------------------
def reference_fold(text: str) -> str:
    """Decompose, drop every character with a combining class, recompose, lower-case."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).lower().translate(_EXTRA_FOLDS)


def reference_tokens(text: str) -> list[str]:
    """Every word of the folded text; a word with CJK characters becomes its
    non-CJK pieces and, per CJK run, the run's bigrams and last character."""
    out: list[str] = []
    for word in _WORD.findall(reference_fold(text)):
        plain, run = "", ""
        for ch in word + " ":
            if is_cjk(ch):
                if plain:
                    out.append(plain)
                    plain = ""
                run += ch
                continue
            if run:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
                out.append(run[-1])
                run = ""
            if ch != " ":
                plain += ch
        if plain:
            out.append(plain)
    return out


def reference_index_text(index: Index, values: list[str]) -> str:
    """What the index stores: phrase indexes value by value between sentinels, the others as one text."""
    if index not in PHRASE_INDEXES:
        return " ".join(reference_tokens(" ".join(values)))
    out: list[str] = []
    for value in values:
        if reference_tokens(value):
            out += [VALUE_START, *reference_tokens(value), VALUE_END]
    return " ".join(out)


def reference_extract(record: pymarc.Record) -> dict[Index, list[str]]:
    """Each index read on its own: the record's fields of that index's tags."""

    def values(spec: dict[str, str | None]) -> list[str]:
        out = []
        for f in record.get_fields(*spec):
            if f.is_control_field():
                out.append(f.data.strip())
                continue
            parts = [s.value for s in f.subfields if spec[f.tag] is None or s.code in spec[f.tag]]
            if parts:
                out.append(" ".join(parts))
        return out

    def isxn(found: list[str]) -> list[str]:
        out = []
        for value in found:
            m = re.search(r"[0-9Xx-]{8,17}", value)
            if m:
                out.append(identifier(m.group(0)))
        return out

    result = {index: values(spec) for index, spec in INDEX_FIELDS.items()}
    result[Index.ISBN] = isxn(result[Index.ISBN])
    result[Index.ISSN] = isxn(result[Index.ISSN])
    year, lang = publication_year(record), language(record)
    result[Index.YEAR] = [str(year)] if year else []
    result[Index.LANGUAGE] = [lang] if lang else []
    result[Index.MATERIAL] = [material_type(str(record.leader))]
    result[Index.ANY] = [
        " ".join(s.value for s in f.subfields)
        for f in record.fields
        if not f.is_control_field() and f.tag < "900" and f.tag not in ANY_EXCLUDED
    ]
    return result


# -- generated text -----------------------------------------------------------
CHINESE = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=12)
VIETNAMESE = st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵĐƯƠ", min_size=1, max_size=10)
ENGLISH = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'", min_size=1, max_size=10)
SEPARATOR = st.sampled_from([" ", "  ", ", ", " : ", "-", "/", "_", "。", "（", "）", " ; ", ""])
WORD = st.one_of(CHINESE, VIETNAMESE, ENGLISH)


@st.composite
def catalogue_text(draw, words=WORD) -> str:
    pieces = draw(st.lists(st.tuples(words, SEPARATOR), max_size=12))
    return "".join(word + sep for word, sep in pieces)


@settings(max_examples=150, deadline=None)
@given(st.one_of(catalogue_text(CHINESE), catalogue_text(VIETNAMESE), catalogue_text(ENGLISH), catalogue_text()))
def test_tokens_match_the_per_word_definition(text):
    assert tokens(text) == reference_tokens(text)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_tokens_match_on_any_unicode(text):
    assert tokens(text) == reference_tokens(text)


@settings(max_examples=150, deadline=None)
@given(st.one_of(catalogue_text(VIETNAMESE), st.text(max_size=40)))
def test_fold_matches_the_per_character_definition(text):
    assert fold(text) == reference_fold(text)


def test_the_combining_mark_classes_hold_every_combining_character_and_no_other():
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    marks = "".join(ch for ch in everything if unicodedata.combining(ch))
    assert "".join(_BMP_MARKS.findall(everything) + _ASTRAL_MARKS.findall(everything)) == marks


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(list(Index)), st.lists(st.one_of(catalogue_text(), st.text(max_size=20)), max_size=4)))
def test_index_texts_match_value_by_value_folding(values):
    """Values are folded together, joined by a separator: the same texts as one by one,
    also for text across which NFC composes or final sigma applies, or that holds the separator."""
    assert index_texts(values) == {index: reference_index_text(index, found) for index, found in values.items()}


def test_index_texts_of_values_holding_the_separator_or_context_sensitive_letters():
    non_ascii = {Index.TITLE: ["ΟΔΟΣ\x1fa", "\u1100", "\u1161 ΑΣ"], Index.ANY: ["\x1f", "Tiếng Việt\x1f图书馆"]}
    ascii_only = {Index.CONTROL: ["a\x1fb", "c-d"], Index.ANY: ["Tiếng_Việt: x\x1f"]}
    for values in (non_ascii, ascii_only):
        assert index_texts(values) == {index: reference_index_text(index, found) for index, found in values.items()}


TAGS = sorted({tag for spec in INDEX_FIELDS.values() for tag in spec} | ANY_EXCLUDED | {"008", "041", "260", "500", "952"})


@st.composite
def records(draw) -> pymarc.Record:
    record = pymarc.Record()
    for tag in draw(st.lists(st.sampled_from(TAGS), max_size=15)):
        if tag < "010":
            record.add_field(pymarc.Field(tag=tag, data=draw(catalogue_text())))
            continue
        codes = draw(st.lists(st.sampled_from("abcdnpqxz6"), min_size=1, max_size=4))
        subfields = [pymarc.Subfield(code, draw(catalogue_text())) for code in codes]
        record.add_field(pymarc.Field(tag=tag, indicators=pymarc.Indicators(" ", " "), subfields=subfields))
    return record


@settings(max_examples=60, deadline=None)
@given(records())
def test_extract_matches_one_scan_per_index_on_generated_records(record):
    assert list(extract(record).values.items()) == list(reference_extract(record).items())
    assert_same_streams(record)


def assert_same_streams(record: pymarc.Record) -> None:
    """The token streams stored for the record are those of the reference definitions."""
    expected = reference_extract(record)
    texts = index_texts(expected)
    for index, values in expected.items():
        assert texts[index] == reference_index_text(index, values), index


def file_records(name: str) -> list[pymarc.Record]:
    return [result.record for result in read_records(DATA / name) if result.record is not None]


@pytest.mark.parametrize("name", MARC_FILES)
def test_extract_and_tokens_match_on_the_test_files(name):
    found = file_records(name)
    assert found, f"{name} gave no records"
    for record in found:
        extracted = extract(record).values
        assert list(extracted.items()) == list(reference_extract(record).items())
        for values in extracted.values():
            for value in values:
                assert tokens(value) == reference_tokens(value)
        assert_same_streams(record)
