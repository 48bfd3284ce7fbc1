"""Replay a scenario of library events against a policy, in a fresh library of its own.

This is how librarians try a policy change before applying it.  The format
is documented in docs/simulation.md: one JSON object per line in, one per
line out.  Two engines give the same answers:

- ``memory`` (``memory.py``): the library in plain objects, decided by the
  same ``policies.decisions`` functions the services call; about a thousand
  times faster.  It replays the ops in ``MEMORY_OPS``.
- ``sql`` (``sql.py``): every event through the real services on an
  in-memory SQLite database.  It replays every op.

With ``engine="auto"`` the memory engine starts, and each batch of events is
checked just before it replays it (``choice.MirrorCheck``).  At the first
batch holding an event it does not mirror, the replay moves to the SQL
engine: the SQL engine replays the batches already answered without showing
its answers (they are the memory engine's, which the differential test holds
equal), then answers from that batch on.  The scenario is read once, in
batches, and no replay keeps its events (``reading.py``); it is read again
from the start only on such a move.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from ils_bridge.simulation.choice import MirrorCheck, replayable_in_memory
from ils_bridge.simulation.events import EventError, invalid
from ils_bridge.simulation.memory import MEMORY_OPS, MemorySimulation
from ils_bridge.simulation.reading import BATCH, read_batches, rereadable
from ils_bridge.simulation.recent import scenario_from_library
from ils_bridge.simulation.sql import Simulation

__all__ = ["ENGINES", "MEMORY_OPS", "EventError", "MemorySimulation", "Replay", "Simulation", "scenario_from_library", "simulate"]

ENGINES = ("auto", "memory", "sql")

Batch = tuple[Sequence[int], list[Any]]  # the line numbers of a batch of events, and the events


class Replay:
    """The results of one replay, in input order.

    ``engine`` says which engine answers: "memory" or "sql".  With ``engine="auto"`` it reads "memory" until
    the replay reaches an event the memory engine does not mirror, and "sql" from there on; ``sql_from`` is
    then the number of that event's line (else None).
    """

    def __init__(self, policy_text: str, lines: Iterable[str], engine: str = "auto", batch_size: int = BATCH):
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r} ({', '.join(ENGINES)})")
        self.policy_text, self.batch_size = policy_text, batch_size
        self.lines = rereadable(lines)
        if engine == "memory" and not replayable_in_memory(events for _, events in read_batches(self.lines, batch_size)):
            raise ValueError("the memory engine does not replay this scenario exactly; use the sql engine")
        self.checked = engine == "auto"  # each batch is checked as it comes (else the engine is settled)
        self.engine = "sql" if engine == "sql" else "memory"
        self.sql_from: int | None = None
        self.simulation = Simulation(policy_text) if engine == "sql" else MemorySimulation(policy_text)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        batches = read_batches(self.lines, self.batch_size)
        return self._results(self._checked(batches) if self.checked else batches)

    def _results(self, batches: Iterable[tuple[Sequence[int], list[Any]]]) -> Iterator[dict[str, Any]]:
        for numbers, events in batches:
            apply = self.simulation.apply  # read again for each batch: the replay may have moved to the SQL engine
            for number, event in zip(numbers, events):
                if event.__class__ is not dict:  # the error that makes the line unreadable
                    yield invalid(number, event)
                    continue
                try:
                    yield apply(event)
                except (EventError, KeyError, ValueError, TypeError) as exc:
                    yield invalid(number, exc)

    def _checked(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """The batches, each checked before the memory engine replays it; from the first one it does not mirror,
        the batches for the SQL engine (see ``_move_to_sql``)."""
        check = MirrorCheck()
        for answered, (numbers, events) in enumerate(batches):
            position = check.unmirrored(events)
            if position is not None:
                yield from self._move_to_sql(answered, numbers[position])
                return
            yield numbers, events

    def _move_to_sql(self, answered: int, line: int) -> Iterator[Batch]:
        """Hand the replay to the SQL engine at ``line``: it replays the ``answered`` batches unseen (their
        answers are already out), and the scenario's batches from the next one on are left for it to answer."""
        self.engine, self.sql_from = "sql", line
        self.simulation = Simulation(self.policy_text)
        batches = read_batches(self.lines, self.batch_size)
        for _ in self._results(islice(batches, answered)):
            pass
        return batches


def simulate(policy_text: str, lines: Iterable[str], engine: str = "auto", *, batch_size: int = BATCH) -> Replay:
    """One result per non-blank input line; a line that cannot be read gets an `invalid_event` result, and replay goes on.

    ``lines`` may have to be read twice (see ``Replay`` and ``reading.rereadable``): a sequence or a seekable
    text file is read in place, any other iterable is first kept as a list of its lines.
    """
    return Replay(policy_text, lines, engine, batch_size)
