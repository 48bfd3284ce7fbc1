from __future__ import annotations

import io
import json
import sys
import unicodedata

import pymarc
import pytest

from marc.reading import UnknownFormat, detect_format, read_records


def records(path_or_stream, **options):
    return list(read_records(path_or_stream, **options))


def test_detects_each_format_from_content(data):
    assert detect_format((data / "loc_books.mrc").read_bytes()[:64]) == "iso2709"
    assert detect_format((data / "loc_books.xml").read_bytes()[:64]) == "marcxml"
    assert detect_format((data / "loc_books.json").read_bytes()[:64]) == "json"
    with pytest.raises(UnknownFormat):
        detect_format(b"hello world")


def test_iso2709_reads_like_pymarc(data):
    ours = records(data / "loc_books.mrc")
    with open(data / "loc_books.mrc", "rb") as stream:
        theirs = list(pymarc.MARCReader(stream))
    assert len(ours) == len(theirs) == 200
    assert all(result.failure is None for result in ours)
    assert [r.record.as_marc() for r in ours] == [r.as_marc() for r in theirs]


def test_offsets_point_at_each_record(data):
    raw = (data / "loc_books.mrc").read_bytes()
    for result in records(data / "loc_books.mrc")[:20]:
        assert raw[result.offset : result.end_offset] == result.record.as_marc()


@pytest.mark.parametrize("name", ["loc_books.xml", "loc_books.json"])
def test_marcxml_and_json_match_the_iso2709_records(data, name):
    expected = [r.record.as_marc() for r in records(data / "loc_books.mrc")[:20]]
    assert [r.record.as_marc() for r in records(data / name)] == expected


def test_single_marcxml_record_without_collection():
    xml = (
        b'<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
        b'<controlfield tag="001">x1</controlfield>'
        b'<datafield tag="245" ind1="0" ind2="0"><subfield code="a">T\xc3\xaan s\xc3\xa1ch</subfield></datafield>'
        b"</record>"
    )
    (result,) = records(io.BytesIO(xml))
    assert result.record["245"]["a"] == "Tên sách"


def test_marc8_record_is_converted_to_utf8(data):
    (result,) = records(data / "marc8.mrc")
    record = result.record
    assert record.leader[9] == "a"
    assert (data / "marc8.mrc").read_bytes()[9:10] == b" "
    expected = unicodedata.normalize("NFC", "De la solitude à la communauté.")
    assert unicodedata.normalize("NFC", record["240"]["a"]) == expected
    assert pymarc.Record(data=record.as_marc())["240"]["a"] == record["240"]["a"]


def test_encoding_can_be_forced(data):
    utf8_record = (data / "unicode_852.mrc").read_bytes()
    unflagged = utf8_record[:9] + b" " + utf8_record[10:]  # claims MARC-8 but is UTF-8
    (forced,) = records(io.BytesIO(unflagged[: unflagged.index(b"\x1d") + 1]), encoding="utf-8")
    assert forced.record["100"]["a"] == "周志华"


@pytest.mark.parametrize(
    ("name", "bad_number", "reason"),
    [
        ("bad_leader.mrc", 2, "bad_leader"),
        ("bad_directory.mrc", 2, "bad_directory"),
        ("bad_length.mrc", 2, "bad_length"),
        ("invalid_utf8.mrc", 2, "bad_encoding"),
        ("missing_245.mrc", 2, "missing_245"),
        ("truncated.mrc", 3, "truncated"),
    ],
)
def test_a_broken_record_is_reported_and_the_others_still_read(data, name, bad_number, reason):
    results = records(data / name)
    assert len(results) == 3
    failed = [r for r in results if r.failure]
    assert [(r.number, r.failure.reason) for r in failed] == [(bad_number, reason)]
    assert failed[0].failure.offset == results[bad_number - 1].offset
    good = [r.record for r in results if r.record]
    assert [r["001"].data for r in good] == ["CN0001", "VN0001"]


def test_failure_names_the_control_number_when_readable(data):
    failure = next(r.failure for r in records(data / "bad_length.mrc") if r.failure)
    assert failure.control_number == "CN0001"
    assert "record 2 at byte" in str(failure) and "CN0001" in str(failure)


def test_resynchronises_after_garbage_between_records(data):
    raw = (data / "loc_books.mrc").read_bytes()
    first, rest = raw[: raw.index(b"\x1d") + 1], raw[raw.index(b"\x1d") + 1 :]
    second = rest[: rest.index(b"\x1d") + 1]
    results = records(io.BytesIO(first + b"garbage \x00\xff bytes\x1d" + second))
    assert [bool(r.record) for r in results] == [True, False, True]
    assert results[1].failure.reason == "bad_leader"


def test_oversized_run_without_terminator_is_skipped_with_bounded_memory(data):
    raw = (data / "loc_books.mrc").read_bytes()
    first = raw[: raw.index(b"\x1d") + 1]
    results = records(io.BytesIO(first + b"9" * 250_000 + b"\x1d" + first))
    assert [bool(r.record) for r in results] == [True, False, True]


def test_invalid_indicator_is_a_failure(data):
    raw = (data / "unicode_852.mrc").read_bytes()
    record = pymarc.Record(data=raw[: raw.index(b"\x1d") + 1])
    record["245"].indicators = pymarc.Indicators("#", "0")
    (result,) = records(io.BytesIO(record.as_marc()))
    assert result.failure.reason == "invalid_indicator"


def test_resume_from_an_offset_keeps_numbering(data):
    all_results = records(data / "loc_books.mrc")
    tenth = all_results[9]
    resumed = records(data / "loc_books.mrc", start_offset=tenth.end_offset, skip_records=tenth.number)
    assert resumed[0].number == 11
    assert [r.record.as_marc() for r in resumed] == [r.record.as_marc() for r in all_results[10:]]


@pytest.mark.parametrize("name", ["loc_books.xml", "loc_books.json"])
def test_resume_in_xml_and_json(data, name):
    all_results = records(data / name)
    fifth = all_results[4]
    resumed = records(data / name, start_offset=fifth.end_offset or 0, skip_records=fifth.number)
    assert [r.number for r in resumed] == list(range(6, 21))
    assert resumed[0].record.as_marc() == all_results[5].record.as_marc()


def test_broken_json_object_is_skipped(data):
    objects = json.loads((data / "loc_books.json").read_text(encoding="utf-8"))[:3]
    lines = [json.dumps(o) for o in objects]
    lines[1] = lines[1][:50] + "###"
    results = records(io.BytesIO(("\n".join(lines) + "\n").encode()))
    assert [bool(r.record) for r in results] == [True, False, True]
    assert results[1].failure.reason == "bad_json"


def test_broken_xml_reports_the_syntax_error(data):
    xml = (data / "loc_books.xml").read_bytes()
    cut = xml[: len(xml) // 2]
    results = records(io.BytesIO(cut))
    assert results[-1].failure.reason == "bad_xml"
    assert all(r.record for r in results[:-1]) and len(results) > 2


def test_rmarc_parser_gives_the_same_records(data):
    pytest.importorskip("rmarc")
    ours = [r.record.as_marc() for r in records(data / "loc_books.mrc", parser="pymarc")]
    rust = [r.record.as_marc() for r in records(data / "loc_books.mrc", parser="rmarc")]
    assert rust == ours
    assert [r.failure.reason for r in records(data / "bad_directory.mrc", parser="rmarc") if r.failure] == [
        "bad_directory"
    ]


def test_auto_parser_falls_back_to_pymarc_without_rmarc(data, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "rmarc" else find_spec(name))
    monkeypatch.setitem(sys.modules, "rmarc._rmarc", None)  # importing rmarc would fail
    auto = [r.record.as_marc() for r in records(data / "unicode_952.mrc", parser="auto")]
    assert auto == [r.record.as_marc() for r in records(data / "unicode_952.mrc", parser="pymarc")]
    with pytest.raises(ImportError):
        list(records(data / "unicode_952.mrc", parser="rmarc"))


def test_bad_record_inside_marcxml_does_not_stop_the_others():
    def record(leader: str, title: str) -> str:
        return (
            f"<record><leader>{leader}</leader><controlfield tag='001'>{title}</controlfield>"
            f"<datafield tag='245' ind1='0' ind2='0'><subfield code='a'>{title}</subfield></datafield></record>"
        )

    good = "00000nam a2200000 a 4500"
    body = record(good, "one") + record("short", "two") + record(good, "three")
    xml = f"<collection xmlns='http://www.loc.gov/MARC21/slim'>{body}</collection>"
    results = records(io.BytesIO(xml.encode()))
    assert [r.record["245"]["a"] if r.record else r.failure.reason for r in results] == ["one", "bad_leader", "three"]
    assert results[1].failure.control_number == "two" and results[1].failure.line == 1


@pytest.mark.parametrize("forced", ["marcxml", "json"])
def test_a_wrong_forced_format_gives_failures_not_exceptions(data, forced):
    results = records(data / "unicode_852.mrc", format=forced)
    assert results and all(r.failure for r in results)


def test_format_override_reads_what_detection_would(data):
    assert len(records(data / "loc_books.json", format="json")) == 20
