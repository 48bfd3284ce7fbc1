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
the memory engine if it mirrors every event (``choice.replayable_in_memory``),
else the SQL engine.  The two never share a run.  The scenario is read twice,
to choose and to replay, one event at a time: no replay keeps its events
(``reading.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ils_bridge.simulation.choice import replayable_in_memory
from ils_bridge.simulation.events import EventError, invalid
from ils_bridge.simulation.memory import MEMORY_OPS, MemorySimulation
from ils_bridge.simulation.reading import read_batches, rereadable
from ils_bridge.simulation.recent import scenario_from_library
from ils_bridge.simulation.sql import Simulation

__all__ = ["ENGINES", "MEMORY_OPS", "EventError", "MemorySimulation", "Replay", "Simulation", "scenario_from_library", "simulate"]

ENGINES = ("auto", "memory", "sql")


class Replay:
    """The results of one replay, in input order; ``engine`` says which engine runs ("memory" or "sql")."""

    def __init__(self, policy_text: str, lines: Iterable[str], engine: str = "auto"):
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r} ({', '.join(ENGINES)})")
        self.lines = rereadable(lines)
        if engine != "sql":
            mirrored = replayable_in_memory(events for _, events in read_batches(self.lines))
            if engine == "memory" and not mirrored:
                raise ValueError("the memory engine does not replay this scenario exactly; use the sql engine")
            engine = "memory" if mirrored else "sql"
        self.engine = engine
        self.simulation = MemorySimulation(policy_text) if engine == "memory" else Simulation(policy_text)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        apply = self.simulation.apply
        for numbers, events in read_batches(self.lines):
            for number, event in zip(numbers, events):
                if event.__class__ is not dict:  # the error that makes the line unreadable
                    yield invalid(number, event)
                    continue
                try:
                    yield apply(event)
                except (EventError, KeyError, ValueError, TypeError) as exc:
                    yield invalid(number, exc)


def simulate(policy_text: str, lines: Iterable[str], engine: str = "auto") -> Replay:
    """One result per non-blank input line; a line that cannot be read gets an `invalid_event` result, and replay goes on.

    ``lines`` is read twice (see ``reading.rereadable``): a sequence or a seekable text file is read in place,
    any other iterable is first kept as a list of its lines.
    """
    return Replay(policy_text, lines, engine)
