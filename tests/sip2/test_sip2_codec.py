"""Codec: round trips for every layout, dates, encodings, and every malformed-frame class."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from sip2_server import Codec, Message, checksum, errors, format_date, parse_date
from sip2_server.fields import MESSAGES
from sip2_server.testing import random_message

SPECS = sorted(MESSAGES.values(), key=lambda s: s.id)


def with_checksum(text: str, encoding: str = "utf-8") -> bytes:
    """``text`` ending in AZ, completed with its checksum computed straight from the spec's definition."""
    data = text.encode(encoding)
    total = 0
    for byte in data:
        total += byte
    value = (~total + 1) & 0xFFFF  # two's complement of the 16-bit sum
    return data + format(value, "04X").encode("ascii")


# -- round trips ------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.id}-{s.name}")
@pytest.mark.parametrize("trailer", [{}, {"sequence": 7, "checksum": True}, {"checksum": True}])
def test_round_trip_every_layout(spec, trailer):
    rng = random.Random(int(spec.id))
    codec = Codec()
    for _ in range(20):
        message = random_message(rng, spec)
        decoded = codec.decode(codec.encode(message, **trailer))
        assert decoded.id == spec.id
        assert decoded.fixed == message.fixed
        assert decoded.fields == message.fields
        assert decoded.sequence == trailer.get("sequence")
        assert decoded.checksummed == trailer.get("checksum", False)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_encoded_fixed_part_has_the_layout_length(spec):
    message = random_message(random.Random(1), spec)
    frame = Codec().encode(message).decode()
    assert frame[2 : 2 + spec.fixed_length] == "".join(message.fixed.values())
    rest = frame[2 + spec.fixed_length :].rstrip("\r")
    assert rest == "".join(f"{c}{v}|" for c, v in message.fields)


def test_spec_example_checksum():
    # The worked example of the spec's "Checksums and Sequence Numbers" section.
    assert checksum(b"9900302.00AY1AZ") == "FCA5"
    message = Codec().decode(b"9900302.00AY1AZFCA5\r")
    assert (message.id, message.sequence, message.checksummed) == ("99", 1, True)
    assert message.fixed == {"status_code": "0", "max_print_width": "030", "protocol_version": "2.00"}


def test_checksum_matches_definition_on_random_data():
    rng = random.Random(5)
    for _ in range(500):
        text = "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(1, 200))) + "AZ"
        expected = with_checksum(text)[-4:].decode()
        assert checksum(text.encode()) == expected
        assert (sum(text.encode()) + int(expected, 16)) % 0x10000 == 0


def test_output_checksum_verifies_by_summing_to_zero():
    reply = Message("94", {"ok": "1"}).add("AF", "Grüße")
    frame = Codec().encode(reply, sequence=3, checksum=True).rstrip(b"\r")
    assert frame[-9:-4] == b"AY3AZ"
    assert (sum(frame[:-4]) + int(frame[-4:], 16)) & 0xFFFF == 0


def test_lower_case_and_short_checksums_are_accepted():
    frame = with_checksum("9900302.00AY1AZ")
    assert Codec().decode(frame.lower().replace(b"ay", b"AY").replace(b"az", b"AZ")).checksummed
    # A checksum below 0x1000 written without leading zeros (as some clients do).
    base = "2300120240101    120000AOi|AA{}|AC|AD|AZ"
    for n in range(100000):
        value = -sum(base.format(n).encode()) & 0xFFFF
        if value < 0x1000:
            break
    short = base.format(n).encode() + format(value, "X").encode()
    assert Codec().decode(short).fields.get("AA") == str(n)


def test_checksum_over_characters_is_accepted_for_non_ascii():
    text = "2300120240101    120000AOi|AAMüller|AC|AD|AY0AZ"
    char_sum = -sum(map(ord, text)) & 0xFFFF
    frame = text.encode("utf-8") + f"{char_sum:04X}".encode()
    assert Codec().decode(frame).get("AA") == "Müller"


# -- fields -----------------------------------------------------------------------

def test_unknown_vendor_fields_and_repeats_are_kept_in_order():
    fixed = b" " * 14 + b"001" + b"20240101    120000" + b"0000" * 2 + b"0002" + b"0000" * 3
    frame = b"64" + fixed + b"AOi|AA1|AEX|AUone|PBx|AUtwo|Q9|AF1|AF2|"
    message = Codec().decode(frame)
    assert message.get_all("AU") == ["one", "two"]
    assert message.get_all("AF") == ["1", "2"]
    assert message.get("PB") == "x" and message.get("Q9") == ""
    assert message.fields.codes() == ["AO", "AA", "AE", "AU", "PB", "AU", "Q9", "AF", "AF"]


def test_omitted_trailing_transaction_date_reads_as_blank():
    message = Codec().decode(with_checksum("65AOinst|AApatron|BON|AY0AZ"))
    assert message.fixed == {"transaction_date": " " * 18}
    assert message.get("AO") == "inst" and message.get("BO") == "N"


def test_last_field_without_trailing_delimiter():
    message = Codec().decode(b"1720240101    120000AOinst|ABitem")
    assert message.get("AB") == "item"


def test_encode_puts_fields_in_layout_order_and_vendor_fields_last():
    reply = Message("36", {"end_session": True, "transaction_date": None})
    reply.add("AF", "bye").add("PZ", "vendor").add("AA", "p1").add("AO", "i")
    assert Codec().encode(reply) == b"36Y" + b" " * 18 + b"AOi|AAp1|AFbye|PZvendor|\r"


def test_encode_neutralises_delimiters_inside_values():
    reply = Message("94", {"ok": "1"}).add("AF", "a|b\rc")
    assert Codec().encode(reply) == b"941AFa b c|\r"


def test_encode_refuses_incomplete_or_wrong_replies():
    with pytest.raises(errors.MissingRequiredField, match="AE"):
        Codec().encode(Message("24", {"patron_status": "", "language": 1, "transaction_date": None})
                       .add("AO", "i").add("AA", "p"))
    with pytest.raises(errors.MissingRequiredField, match="ok"):
        Codec().encode(Message("94"))
    with pytest.raises(ValueError, match="hold_items_count"):
        fixed = {f.name: "" for f in MESSAGES["64"].fixed}
        fixed.update(language=0, transaction_date=None, hold_items_count=12345)
        Codec().encode(Message("64", fixed).add("AO", "").add("AA", "").add("AE", ""))
    with pytest.raises(errors.UnknownMessage):
        Codec().encode(Message("42"))


def test_strict_mode_reports_missing_required_fields():
    frame = b"2300120240101    120000AOinst|AApatron|"
    assert Codec().decode(frame).missing_required() == ["AC", "AD"]
    with pytest.raises(errors.MissingRequiredField, match="AC, AD"):
        Codec(strict=True).decode(frame)


# -- dates ------------------------------------------------------------------------

def test_date_round_trips():
    local = datetime(2024, 2, 29, 23, 59, 58)
    assert format_date(local) == "20240229    235958"
    assert parse_date(format_date(local)) == local
    aware = datetime(2024, 1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    assert format_date(aware) == "20231231   Z170000"
    assert parse_date("20231231   Z170000") == aware
    assert parse_date(" " * 18) is None and format_date(None) == " " * 18


def test_date_zone_letters():
    assert parse_date("20240101   Q120000").utcoffset() == timedelta(hours=-4)  # Atlantic
    assert parse_date("20240101   A120000").utcoffset() == timedelta(hours=1)
    assert parse_date("20240101 EST120000").tzinfo is None


@pytest.mark.parametrize("text", ["20241301    120000", "2024010     120000", "20240230    120000",
                                  "20240101    126000", "abcdefghijklmnopqr"])
def test_invalid_dates(text):
    with pytest.raises(errors.InvalidFixedField):
        parse_date(text)


# -- encodings and terminators ------------------------------------------------------

@pytest.mark.parametrize("encoding,text", [("utf-8", "Łódź 図書館"), ("cp1252", "Café €5"),
                                           ("latin-1", "Größe ½"), ("cp850", "Señor Ø")])
def test_encodings(encoding, text):
    codec = Codec(encoding=encoding)
    reply = Message("94", {"ok": "1"}).add("AF", text)
    frame = codec.encode(reply, sequence=1, checksum=True)
    assert text.encode(encoding) in frame
    assert codec.decode(frame).get("AF") == text


def test_unrepresentable_characters_become_question_marks():
    frame = Codec(encoding="latin-1").encode(Message("94", {"ok": "1"}).add("AF", "€"))
    assert frame == b"941AF?|\r"


def test_terminators():
    reply = Message("94", {"ok": "1"})
    assert Codec(terminator="\r\n").encode(reply) == b"941\r\n"
    for ending in (b"\r", b"\n", b"\r\n", b""):
        assert Codec().decode(b"941" + ending).fixed == {"ok": "1"}
    with pytest.raises(ValueError):
        Codec(terminator="\n\r")
    with pytest.raises(ValueError):
        Codec(encoding="utf-16")


# -- malformed frames ----------------------------------------------------------------

GOOD_23 = "2300120240101    120000AOinst|AApatron|ACpw|AD1234|"

MALFORMED = [
    ("unknown id", b"42hello|", errors.UnknownMessage),
    ("letters as id", b"XYZ", errors.UnknownMessage),
    ("empty", b"", errors.FixedFieldTooShort),
    ("one byte", b"9", errors.UnknownMessage),
    ("truncated fixed", b"2300120240101    12", errors.FixedFieldTooShort),
    ("fixed cut by a field", b"2300120240101AOinst|AApatron|ACpw|AD1234|", errors.FixedFieldTooShort),
    ("fixed cut before the date", b"1100AOinst|AApatron|", errors.FixedFieldTooShort),
    ("fixed too long shifts the date", b"23000120240101    120000AOi|AAp|AC|AD|", errors.InvalidFixedField),
    ("letters in a number", b"99008a2.00", errors.InvalidFixedField),
    ("impossible date", b"2300120241399    120000AOi|AAp|AC|AD|", errors.InvalidFixedField),
    ("bad checksum", with_checksum(GOOD_23 + "AY1AZ")[:-1] + b"0", errors.ChecksumMismatch),
    ("checksum of another frame", GOOD_23.encode() + b"AY1AZ" + with_checksum("941AZ")[-4:], errors.ChecksumMismatch),
    ("invalid utf-8", b"2300120240101    120000AOinst|AA\xff\xfe|AC|AD|", errors.InvalidEncoding),
    ("NUL byte", b"2300120240101    120000AOinst|AA\x00|AC|AD|", errors.ControlCharacter),
    ("one-character field", b"2300120240101    120000AOinst|A|", errors.MalformedField),
    ("garbage field id", b"2300120240101    120000AOinst|#$x|", errors.MalformedField),
    ("sequence not a digit", b"2300120240101    120000AOinst|AA1|AC|AD|AYx", errors.BadSequenceNumber),
    ("over-long line", b"23" + b"0" * 9000, errors.LineTooLong),
]


@pytest.mark.parametrize("frame,error", [(f, e) for _, f, e in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_frames_raise_specific_errors(frame, error):
    with pytest.raises(error) as info:
        Codec().decode(frame)
    assert isinstance(info.value, errors.FrameError)
    assert str(info.value)  # says what is wrong


def test_error_messages_name_the_problem():
    with pytest.raises(errors.FixedFieldTooShort, match="transaction_date"):
        Codec().decode(b"2300120240101")
    with pytest.raises(errors.ChecksumMismatch, match="expected AZ"):
        Codec().decode(b"9900302.00AY1AZFCA6")
    with pytest.raises(errors.InvalidEncoding, match="offset 26"):
        Codec(encoding="cp1252").decode(b"2300120240101    120000AOi\x81|")


def test_cp1252_and_latin1_differ_on_undefined_bytes():
    frame = b"941AFx\x81|"
    with pytest.raises(errors.InvalidEncoding):
        Codec(encoding="cp1252").decode(frame)
    assert Codec(encoding="latin-1").decode(frame).get("AF") == "x\x81"


def test_az_inside_a_field_value_is_not_a_checksum():
    plain = b"1720240101    120000AOi|ABxAZ12|"
    message = Codec().decode(plain)
    assert message.get("AB") == "xAZ12" and not message.checksummed
    covered = plain + b"AY3AZ"
    checked = Codec().decode(covered + checksum(covered).encode("ascii"))
    assert checked.get("AB") == "xAZ12" and checked.checksummed and checked.sequence == 3
    with pytest.raises(errors.ChecksumMismatch):
        Codec().decode(covered + b"0000")
    assert not Codec().decode(b"1720240101    120000AOi|ABAZ|").checksummed  # "AZ" with no digits after it


def test_values_with_delimiters_or_control_characters_are_blanked_on_output():
    frame = Codec().encode(Message("18", {"circulation_status": "03", "security_marker": "02", "fee_type": "01",
                                          "transaction_date": None})
                           .add("AB", "a|b").add("AJ", "line\tbreak\x7f").add("AQ", "中文 ok"))
    assert b"ABa b|" in frame and b"AJline break |" in frame and "AQ中文 ok|".encode() in frame
