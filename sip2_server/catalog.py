"""Screen messages (AF) and print lines (AG) per language, from ``sip2_server/messages/<lang>.yaml``.

Each catalog has ``reasons`` (one ``{screen, print}`` entry per
``ils_bridge.reasons.Reason`` value) and ``messages`` (the adapter's own
texts, with ``{name}`` placeholders).  A language without a catalog falls
back to English; so does a key missing from a catalog (tests make sure none is).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ils_bridge.reasons import Reason

CATALOG_DIR = Path(__file__).with_name("messages")
DEFAULT_LANGUAGE = "en"

SIP2_LANGUAGE_CODES = {"en": "001", "fr": "002", "de": "003", "it": "004", "nl": "005", "sv": "006", "fi": "007",
                       "es": "008", "da": "009", "pt": "010", "no": "012", "he": "013", "ja": "014", "ru": "015",
                       "ar": "016", "pl": "017", "el": "018", "zh": "019", "ko": "020"}
"""Our language codes -> the 3-digit language field of messages 23/24/63/64 (000: unknown, e.g. Vietnamese)."""


class _Defaults(dict):
    """Leave unknown placeholders visible instead of failing on them."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Catalog:
    language: str
    reasons: dict[str, dict[str, str]]
    messages: dict[str, str]

    def screen(self, reason: Reason, **values: Any) -> str:
        return self._reason(reason, "screen", values)

    def print_line(self, reason: Reason, **values: Any) -> str:
        return self._reason(reason, "print", values)

    def text(self, key: str, **values: Any) -> str:
        template = self.messages.get(key) or english().messages.get(key, key)
        return template.format_map(_Defaults(values))

    def _reason(self, reason: Reason, kind: str, values: dict[str, Any]) -> str:
        entry = self.reasons.get(reason.value) or english().reasons.get(reason.value) or {}
        return entry.get(kind, reason.message).format_map(_Defaults(values))

    @property
    def sip2_code(self) -> str:
        return SIP2_LANGUAGE_CODES.get(self.language, "000")


def available_languages() -> list[str]:
    return sorted(p.stem for p in CATALOG_DIR.glob("*.yaml"))


@cache
def load_catalog(language: str) -> Catalog:
    path = CATALOG_DIR / f"{language}.yaml"
    if not path.is_file():
        return english() if language != DEFAULT_LANGUAGE else Catalog(DEFAULT_LANGUAGE, {}, {})
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Catalog(language, dict(document.get("reasons") or {}), dict(document.get("messages") or {}))


def english() -> Catalog:
    return load_catalog(DEFAULT_LANGUAGE)


def catalog_for(language: str | None) -> Catalog:
    """The catalog for a language code like ``zh`` or ``zh-CN`` (region ignored); English if none."""
    base = (language or DEFAULT_LANGUAGE).split("-")[0].split("_")[0].lower()
    return load_catalog(base)
