"""The load bench's lean frames: what it sends must be what the codec would send, with a valid checksum."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from sip2_server import Codec

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sip2_load.py"


def _bench():
    spec = importlib.util.spec_from_file_location("sip2_load_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_templates_fill_in_date_sequence_and_checksum():
    bench = _bench()
    date = b"20260102    030405"
    for template, expected in ((bench.checkout("P1", "I1-2"), {"AA": "P1", "AB": "I1-2"}),
                               (bench.checkin("I1-2"), {"AB": "I1-2", "AP": "main"}),
                               (bench.item_information("I3-4"), {"AB": "I3-4"})):
        for sequence in (0, 7):
            frame = template.frame(sequence, date)
            assert frame.endswith(b"\r")
            message = Codec().decode(frame)  # raises on a wrong checksum
            assert message.checksummed and message.sequence == sequence
            assert {code: message.get(code) for code in expected} == expected
            if template.dated:
                assert message.fixed["transaction_date"] == date.decode()
    assert Codec().decode(bench.SC_STATUS.frame(3, date)).id == "99"


def test_refusals_are_read_from_the_first_bytes():
    bench = _bench()
    assert bench.refused(b"120NNY20260102    030405AOx|\r") and bench.refused(b"100NY20260102    030405AOx|\r")
    assert bench.refused(b"1801000120260102    030405AB|AJ|\r")
    assert not bench.refused(b"121NNY20260102    030405AOx|\r") and not bench.refused(b"1803020120260102    030405|\r")
