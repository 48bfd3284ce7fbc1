"""The in-memory form of one SIP2 message, independent of bytes on the wire."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .fields import MESSAGES, MessageSpec


class FieldList:
    """Variable-length fields as an ordered multimap: some codes repeat (AU, AS, AF, CG...).

    Order is kept exactly as received or added; ``get`` returns the first value
    of a code, ``get_all`` every value in order.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = list(items)

    def add(self, code: str, value: str) -> None:
        self._items.append((code, value))

    def get(self, code: str, default: str | None = None) -> str | None:
        for c, v in self._items:
            if c == code:
                return v
        return default

    def get_all(self, code: str) -> list[str]:
        return [v for c, v in self._items if c == code]

    def remove_all(self, code: str) -> None:
        self._items = [(c, v) for c, v in self._items if c != code]

    def codes(self) -> list[str]:
        return [c for c, _ in self._items]

    def __contains__(self, code: object) -> bool:
        return any(c == code for c, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FieldList):
            return self._items == other._items
        return NotImplemented

    def __repr__(self) -> str:
        return f"FieldList({self._items!r})"


@dataclass
class Message:
    """One SIP2 message.

    ``fixed`` maps fixed-field names (see ``fields.MESSAGES``) to their text
    exactly as on the wire.  ``fields`` holds the variable-length fields
    without the error-detection trailer; ``sequence`` is the AY value (or
    ``None``) and ``checksummed`` tells whether an AZ field was present.
    """

    id: str
    fixed: dict[str, str] = field(default_factory=dict)
    fields: FieldList = field(default_factory=FieldList)
    sequence: int | None = None
    checksummed: bool = False

    @property
    def spec(self) -> MessageSpec:
        return MESSAGES[self.id]

    @property
    def name(self) -> str:
        return self.spec.name

    def get(self, code: str, default: str | None = None) -> str | None:
        """First value of a variable field."""
        return self.fields.get(code, default)

    def get_all(self, code: str) -> list[str]:
        return self.fields.get_all(code)

    def add(self, code: str, value: object) -> Message:
        """Append a variable field; returns self so replies can be built fluently."""
        self.fields.add(code, str(value))
        return self

    def missing_required(self) -> list[str]:
        """Required variable fields of this message's layout that are absent."""
        present = set(self.fields.codes())
        return [code for code in self.spec.required_fields if code not in present]
