"""Read YAML keeping the line of every value, so errors can name it.

Numbers written with a decimal point become Decimal (never float), dates
stay ISO strings for the schema to check, and a key given twice in one
mapping is an error instead of PyYAML's silent "last one wins".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml

Path = tuple[Any, ...]


class YamlError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return the data and a map path -> 1-based line."""
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlError(mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if node is None:
        raise YamlError(1, "the file is empty")
    lines: dict[Path, int] = {}
    return _convert(node, (), lines), lines


def _convert(node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in result:
                raise YamlError(key_node.start_mark.line + 1, f"key {key!r} is given twice")
            result[key] = _convert(value_node, path + (key,), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, path + (i,), lines) for i, child in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise YamlError(node.start_mark.line + 1, "a key must be a plain value")
    tag = node.tag
    if tag == "tag:yaml.org,2002:float":
        try:
            return Decimal(node.value.replace("_", ""))
        except ArithmeticError:
            raise YamlError(node.start_mark.line + 1, f"{node.value!r} is not a decimal number") from None
    if tag == "tag:yaml.org,2002:timestamp":
        return node.value
    return _construct(node)


_constructor = yaml.SafeLoader("")


def _construct(node: yaml.ScalarNode) -> Any:
    return _constructor.construct_object(node, deep=True)
