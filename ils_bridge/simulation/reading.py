"""Reading a scenario: its lines as events, one at a time, as often as needed.

A replay reads its scenario twice: once to choose the engine, once to replay
it (``Replay`` in ``__init__.py``).  Neither keeps the events: a million
parsed events took some 750 MB, where the lines themselves are the caller's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Protocol

from ils_bridge.simulation.events import EventError

try:  # optional (the `fast` extra): parses a scenario line several times faster than json
    from orjson import JSONDecodeError as _FastDecodeError
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - depends on the installation
    _fast_loads, _FastDecodeError = json.loads, json.JSONDecodeError


class SeekableText(Protocol):
    def __iter__(self) -> Iterator[str]: ...
    def seek(self, offset: int) -> int: ...
    def tell(self) -> int: ...
    def seekable(self) -> bool: ...


class RewoundFile:
    """A seekable text file read from where it stood when given, each time it is iterated."""

    def __init__(self, file: SeekableText):
        self.file, self.start = file, file.tell()

    def __iter__(self) -> Iterator[str]:
        self.file.seek(self.start)
        return iter(self.file)


def rereadable(lines: Iterable[str]) -> Iterable[str]:
    """``lines`` in a form that can be read more than once.

    A sequence (the lines of a file, as the CLI reads them) and a seekable text
    file are read again in place; any other iterable is kept as a list of its
    lines, far smaller than the events parsed from them.
    """
    if isinstance(lines, Sequence):
        return lines
    seekable = getattr(lines, "seekable", None)
    if seekable is not None and seekable():
        return RewoundFile(lines)  # type: ignore[arg-type]
    return list(lines)


BATCH = 1024  # lines parsed at once: enough that the per-line work runs in C, few enough to keep memory small


def read_batches(lines: Iterable[str], size: int = BATCH) -> Iterator[tuple[Sequence[int], list[Any]]]:
    """The scenario's events a batch at a time: the line numbers of the non-blank lines, and for each its event
    (a JSON object) or the error that makes the line unreadable.

    A batch of lines that all parse as JSON objects is read in a few calls into C; any other batch line by line.
    """
    remaining = iter(lines)
    first = 1
    while batch := [*islice(remaining, size)]:
        try:
            events = [*map(_fast_loads, batch)]
        except _FastDecodeError:  # a blank line, or one the fast parser refuses
            yield _read_one_by_one(batch, first)
        else:
            if {*map(type, events)} != {dict}:  # some line holds JSON that is not an object
                events = [event if event.__class__ is dict else _not_an_object() for event in events]
            yield range(first, first + len(batch)), events
        first += len(batch)


def _read_one_by_one(batch: list[str], first: int) -> tuple[list[int], list[Any]]:
    numbers: list[int] = []
    events: list[Any] = []
    for number, line in enumerate(batch, start=first):
        if line and not line.isspace():
            try:
                event = _fast_loads(line)
            except _FastDecodeError:
                event = _read_slowly(line)
            numbers.append(number)
            events.append(event if event.__class__ is dict or isinstance(event, Exception) else _not_an_object())
    return numbers, events


def _read_slowly(line: str) -> Any:
    """A line the fast parser refused: json accepts a little more (NaN), and words its errors as the SQL engine
    always has.  Its value, or the error that makes it unreadable."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return exc


def _not_an_object() -> EventError:
    return EventError("each line must be a JSON object")
