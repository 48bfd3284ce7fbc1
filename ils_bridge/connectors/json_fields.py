"""Reading values out of a host's JSON answers by dotted path (``"card.number"``, ``"data.items"``)."""

from __future__ import annotations

from typing import Any, Final


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Returned by :func:`lookup` when the path does not exist (distinct from a JSON ``null``)."""


def lookup(document: Any, path: str) -> Any:
    """The value at ``path`` (keys separated by dots, list indexes as digits), or :data:`MISSING`."""
    node = document
    for key in path.split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return MISSING
    return node
