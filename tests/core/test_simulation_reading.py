"""Reading a scenario in batches, and choosing its engine from them, give what reading it line by line gives."""

from __future__ import annotations

import io
import json
import random

import pytest

from ils_bridge.simulation import MemorySimulation, simulate
from ils_bridge.simulation.choice import _mirrored, replayable_in_memory
from ils_bridge.simulation.reading import read_batches, rereadable
from tests.conftest import example_policy
from tests.core.test_simulation_engines import ScenarioWriter

AT = "2026-03-02T10:00:00+08:00"


def _flat(batches) -> list[tuple[int, object]]:
    return [(number, event if event.__class__ is dict else f"{type(event).__name__}: {event}")
            for numbers, events in batches for number, event in zip(numbers, events)]


def _line_by_line(lines: list[str]) -> list[tuple[int, object]]:
    """The reference: each non-blank line on its own (a batch of one line reads it the slow way if it must)."""
    return [pair for number, line in enumerate(lines, start=1) if line.strip()
            for pair in _flat([([number], read_batches([line]).__next__()[1])])]


ODD_LINES = ["", "   ", "[1, 2]", '"text"', "3", '{"op": "checkout"', "{bad json}", '{"op": "tick", "at": NaN}',
             json.dumps({"op": "tick", "at": AT}), json.dumps({"op": "checkin", "at": AT, "item": "B1"})]


@pytest.mark.parametrize("size", [1, 3, 7, 1024])
def test_batches_read_every_line_as_one_at_a_time_does(size):
    rng = random.Random(size)
    lines = ScenarioWriter("xuzhou", 5).write(transactions=60)
    for _ in range(25):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(ODD_LINES))
    got = _flat(read_batches(lines, size))
    assert got == _line_by_line(lines)
    assert [number for number, _ in got] == [n for n, line in enumerate(lines, start=1) if line.strip()]
    assert ("each line must be a JSON object" in str(got) and "JSONDecodeError" in str(got))


def test_a_scenario_is_read_again_from_a_file_a_list_or_a_generator():
    lines = [json.dumps({"op": "tick", "at": AT}), "", json.dumps({"op": "checkin", "at": AT, "item": "B1"})]
    file = io.StringIO("\n".join(lines) + "\n")
    for source in (lines, file, (line for line in lines)):
        again = rereadable(source)
        first, second = _flat(read_batches(again)), _flat(read_batches(again))
        assert first == second == _flat(read_batches(lines))
        assert [number for number, _ in first] == [1, 3]


def _events_of_every_kind() -> list[object]:
    """Plain events, and events the memory engine does not mirror for each reason it has."""
    plain = [{"op": "checkout", "at": AT, "patron": "P1", "item": "B1"}, {"op": "tick", "at": AT},
             {"op": "pay", "at": AT, "patron": "P1", "amount": "1.00"}, {"op": "fly", "at": AT, "x": None},
             {"op": ["checkout"], "at": AT}, {"at": AT}, ValueError("unreadable"),
             {"op": "item", "at": AT, "barcode": "B9", "material": "zh_book", "copies": 2, "closed_stack": True},
             {"op": "patron", "at": AT, "id": "P1", "type": "phd"}, {"op": "hold", "at": AT, "patron": "P1", "title": 7}]
    odd = [{"op": "lost", "at": AT, "item": "B1"}, {"op": "pay", "at": AT, "patron": "P1", "amount": "1", "fee": "3"},
           {"op": "checkin", "at": AT, "item": " B1"}, {"op": "checkin", "at": AT, "item": "B1\u3000"},
           {"op": "checkin", "at": AT, "item": ""}, {"op": "checkin", "at": AT, "item": None},
           {"op": "checkin", "at": AT, "item": 5}, {"op": "item", "at": AT, "barcode": "B9", "copies": "2"},
           {"op": "item", "at": AT, "barcode": "B9", "closed_stack": 1}, {"op": "item", "at": AT, "pub_year": True},
           {"op": "checkout", "at": AT, "patron": "P1", "item": "B1", "renew_if_own": "yes"},
           {"op": "patron", "at": AT, "id": "P2", "type": "phd", "card": "P1"},
           {"op": "hold", "at": AT, "patron": "P1", "title": False}]
    return plain + odd


def test_the_engine_choice_on_batches_is_the_choice_event_by_event():
    events = _events_of_every_kind()
    rng = random.Random(3)
    for _ in range(400):
        scenario = [rng.choice(events) for _ in range(rng.randint(1, 12))]
        identifiers: set[str] = set()
        expected = all(_mirrored(event, identifiers) for event in scenario)
        cut = rng.randint(0, len(scenario))
        assert replayable_in_memory([scenario]) == expected, scenario
        assert replayable_in_memory([scenario[:cut], scenario[cut:]]) == expected, scenario


def test_a_scenario_longer_than_a_batch_is_chosen_for_and_replayed_whole():
    """Lines past the first batch: the one event the memory engine cannot mirror far down the scenario sends it
    to the SQL engine, and the memory engine replays every line, in order, as applying them one by one does."""
    lines = ScenarioWriter("xuzhou", 11, oddity=0).write(transactions=1100)
    late = [*lines, json.dumps({"op": "checkin", "at": "2027-01-01T10:00:00+08:00", "item": "B1 "})]
    assert replayable_in_memory(events for _, events in read_batches(lines))
    assert not replayable_in_memory(events for _, events in read_batches(late))
    replay = simulate(example_policy("xuzhou"), lines)
    one_by_one = MemorySimulation(example_policy("xuzhou"))
    expected = [one_by_one.apply(json.loads(line)) for line in lines]
    assert list(replay) == expected and replay.engine == "memory"
    assert len(expected) > 1024 and sum(r["ok"] for r in expected if r["op"] == "checkin") > 10
