"""Framing of byte streams, and the codec under 100,000+ generated and damaged frames."""

from __future__ import annotations

import contextlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sip2_server import Codec
from sip2_server.errors import FrameError, LineTooLong
from sip2_server.framing import LineFramer
from sip2_server.testing import damage, random_frame


def frames_of(framer: LineFramer, chunks: list[bytes]) -> list[bytes | LineTooLong]:
    out: list[bytes | LineTooLong] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


def test_cr_lf_and_crlf_all_end_frames():
    assert frames_of(LineFramer(100), [b"a\rb\nc\r\nd"]) == [b"a", b"b", b"c"]


def test_frames_split_across_reads():
    framer = LineFramer(100)
    assert frames_of(framer, [b"99003", b"02.00", b"\r", b"\n9900"]) == [b"9900302.00"]
    assert framer.pending == 4


def test_over_long_line_is_reported_once_then_skipped_to_the_next_terminator():
    framer = LineFramer(10)
    out = frames_of(framer, [b"x" * 8, b"y" * 8, b"z" * 30, b"tail\rok\r"])
    assert len(out) == 2 and isinstance(out[0], LineTooLong) and out[1] == b"ok"
    assert framer.pending == 0


def test_over_long_line_within_one_read():
    out = frames_of(LineFramer(10), [b"a" * 11 + b"\rshort\r"])
    assert isinstance(out[0], LineTooLong) and out[1] == b"short"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=20),
       st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=20))
def test_any_chunking_gives_the_same_frames(lines, cuts):
    stream = b"".join(line + b"\r\n" for line in lines)
    chunks, pos = [], 0
    for cut in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        chunks.append(stream[pos : pos + cut])
        pos += cut
    chunks.append(stream[pos:])
    assert frames_of(LineFramer(1000), chunks) == [line for line in lines if line]


VALID_FRAMES = 25_000
DAMAGED_PER_FRAME = 3
"""25,000 generated frames and 75,000 damaged copies: 100,000 frames through the decoder (generating a
message costs more than damaging its frame, so each frame is damaged several ways)."""


def test_codec_fuzz_100k_frames():
    """Generated frames round-trip exactly; damaged ones parse or raise a FrameError, never anything else."""
    rng = random.Random(20240601)
    codec = Codec()
    errors_seen: set[str] = set()
    decoded_frames = 0
    for _ in range(VALID_FRAMES):
        message, frame = random_frame(rng, codec)
        decoded = codec.decode(frame)
        assert (decoded.id, decoded.fixed, decoded.fields, decoded.sequence) == (
            message.id, message.fixed, message.fields, message.sequence)
        for _ in range(DAMAGED_PER_FRAME):
            try:
                codec.decode(damage(rng, frame))
            except FrameError as exc:
                errors_seen.add(exc.code)
        decoded_frames += 1 + DAMAGED_PER_FRAME
    assert decoded_frames >= 100_000
    # the damage exercised every way of being wrong the codec can detect on input
    assert errors_seen >= {"unknown_message", "fixed_field_too_short", "invalid_fixed_field", "malformed_field",
                           "bad_checksum", "invalid_encoding", "control_character"}


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_other_exceptions(data):
    for encoding in ("utf-8", "cp1252", "latin-1", "cp850"):
        with contextlib.suppress(FrameError):
            Codec(encoding=encoding).decode(data)
