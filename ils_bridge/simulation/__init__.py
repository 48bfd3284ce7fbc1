"""Replay a scenario of library events against a policy, in a fresh library of its own.

This is how librarians try a policy change before applying it.  The format
is documented in docs/simulation.md: one JSON object per line in, one per
line out.  Two engines give the same answers:

- ``memory`` (``memory.py``): the library in plain objects, decided by the
  same ``policies.decisions`` functions the services call; about a thousand
  times faster.  It replays the ops in ``MEMORY_OPS``.
- ``sql`` (``sql.py``): every event through the real services on an
  in-memory SQLite database.  It replays every op.

The engine is chosen once, from the whole scenario, before the first event:
the memory engine if it mirrors every event (``replayable_in_memory``), else
the SQL engine.  The two never share a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

try:  # optional (the `fast` extra): parses a scenario line ten times faster than json
    from orjson import JSONDecodeError as _FastDecodeError
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - depends on the installation
    _fast_loads, _FastDecodeError = json.loads, json.JSONDecodeError

from ils_bridge.simulation.events import EventError, invalid
from ils_bridge.simulation.memory import (
    MEMORY_OPS,
    MemorySimulation,
    replayable_in_memory,
)
from ils_bridge.simulation.recent import scenario_from_library
from ils_bridge.simulation.sql import Simulation

__all__ = ["ENGINES", "MEMORY_OPS", "EventError", "MemorySimulation", "Replay", "Simulation", "scenario_from_library", "simulate"]

ENGINES = ("auto", "memory", "sql")


class Replay:
    """The results of one replay, in input order; ``engine`` says which engine ran ("memory" or "sql")."""

    def __init__(self, policy_text: str, lines: Iterable[str], engine: str = "auto"):
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r} ({', '.join(ENGINES)})")
        # Two flat lists rather than (number, event) pairs: a million tuples kept alive for the whole replay
        # would make every full garbage collection walk them; plain JSON objects are not tracked at all.
        self.numbers, self.events = _read_all(lines)
        if engine == "auto":
            engine = "memory" if replayable_in_memory(self.events) else "sql"
        elif engine == "memory" and not replayable_in_memory(self.events):
            raise ValueError("the memory engine does not replay this scenario exactly; use the sql engine")
        self.engine = engine
        self.simulation = MemorySimulation(policy_text) if engine == "memory" else Simulation(policy_text)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        apply = self.simulation.apply
        for number, event in zip(self.numbers, self.events):
            if isinstance(event, Exception):
                yield invalid(number, event)
                continue
            try:
                yield apply(event)
            except (EventError, KeyError, ValueError, TypeError) as exc:
                yield invalid(number, exc)


def _read_all(lines: Iterable[str]) -> tuple[list[int], list[Any]]:
    """The line numbers of the non-blank lines, and for each its event or the error that makes it unreadable."""
    numbers: list[int] = []
    events: list[Any] = []
    fast_loads = _fast_loads
    for number, line in enumerate(lines, start=1):
        if line and not line.isspace():
            numbers.append(number)
            try:  # the common case inline: a million lines make a function call per line count
                event = fast_loads(line)
            except _FastDecodeError:
                events.append(_read_slowly(line))
            else:
                events.append(event if event.__class__ is dict else _not_an_object())
    return numbers, events


def _read_slowly(line: str) -> Any:
    """A line the fast parser refused: json accepts a little more (NaN), and words its errors as the SQL engine
    always has.  Its event, or the error that makes it unreadable."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as exc:
        return exc
    return event if event.__class__ is dict else _not_an_object()


def _not_an_object() -> EventError:
    return EventError("each line must be a JSON object")


def simulate(policy_text: str, lines: Iterable[str], engine: str = "auto") -> Replay:
    """One result per non-blank input line; a line that cannot be read gets an `invalid_event` result, and replay goes on."""
    return Replay(policy_text, lines, engine)
