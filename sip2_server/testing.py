"""Seeded generators of valid and damaged SIP2 frames, for tests, fuzzing and benchmarks."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from .codec import Codec, format_date
from .fields import FIELDS, MESSAGES, Kind, MessageSpec
from .message import FieldList, Message

_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:;/$#@!"
_WIDE = "äöüßéèçñøåÆŒ€“”…中文図書館мир"
_FIXED_TEXT = _ASCII.replace("Z", "")  # fixed text ending a frame must not read as an AZ checksum
_VENDOR_CODES = ("PB", "PC", "XK", "ZZ", "Q1")
_EPOCH = datetime(2000, 1, 1)


def random_text(rng: random.Random, max_len: int = 24, *, wide: bool = True) -> str:
    alphabet = _ASCII + _WIDE if wide else _ASCII
    return "".join(rng.choices(alphabet, k=rng.randrange(max_len + 1)))


def _fixed_value(rng: random.Random, kind: Kind, length: int) -> str:
    if kind is Kind.DATE:
        if rng.random() < 0.1:
            return " " * length
        moment = _EPOCH + timedelta(seconds=rng.randrange(40 * 365 * 86400))
        return format_date(moment)
    if kind is Kind.NUMBER:
        return "".join(rng.choices("0123456789", k=length))
    if kind is Kind.FLAG:
        return rng.choice("YNU0123+-* ")
    return "".join(rng.choices(_FIXED_TEXT, k=length))


def random_message(rng: random.Random, spec: MessageSpec, *, wide: bool = True) -> Message:
    """A valid message of this layout: every required field, a random share of the optional
    ones (repeatable ones possibly repeated), sometimes a vendor field; in layout order."""
    fixed = {f.name: _fixed_value(rng, f.kind, f.length) for f in spec.fixed}
    fields = FieldList()
    for var in spec.variable:
        if not var.required and rng.random() < 0.5:
            continue
        repeats = rng.randint(1, 3) if FIELDS[var.code].repeatable else 1
        for _ in range(repeats):
            fields.add(var.code, random_text(rng, wide=wide))
    if spec.variable and rng.random() < 0.3:
        fields.add(rng.choice(_VENDOR_CODES), random_text(rng, wide=wide))
    return Message(spec.id, fixed, fields)


def random_frame(rng: random.Random, codec: Codec, *, wide: bool = True) -> tuple[Message, bytes]:
    """A random message of any layout and its encoding, with error detection half the time."""
    spec = rng.choice(list(MESSAGES.values()))
    message = random_message(rng, spec, wide=wide)
    if rng.random() < 0.5:
        message.sequence = rng.randrange(10)
        message.checksummed = True
    frame = codec.encode(message, sequence=message.sequence, checksum=message.checksummed)
    return message, frame


def damage(rng: random.Random, frame: bytes) -> bytes:
    """The frame (without terminator) damaged one way or another; never containing CR or LF."""
    body = bytearray(frame.rstrip(b"\r\n"))
    how = rng.randrange(5)
    if how == 0 and body:  # flip a byte
        body[rng.randrange(len(body))] = rng.randrange(256)
    elif how == 1:  # truncate
        del body[rng.randrange(len(body) + 1):]
    elif how == 2:  # insert garbage
        pos = rng.randrange(len(body) + 1)
        body[pos:pos] = rng.randbytes(rng.randint(1, 8))
    elif how == 3 and body:  # delete a span
        pos = rng.randrange(len(body))
        del body[pos : pos + rng.randint(1, 6)]
    else:  # pure noise
        body = bytearray(rng.randbytes(rng.randint(1, 60)))
    return bytes(body).replace(b"\r", b" ").replace(b"\n", b" ")
