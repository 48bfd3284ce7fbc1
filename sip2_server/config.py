"""Server-wide SIP2 settings: the ``sip2:`` section of the ``--config`` file.

::

    sip2:
      workers: 16                 # threads for blocking calls: logins, PIN checks; on PostgreSQL also reads and writes
      patron_auth: local          # local (PIN via the library) | campus (connectors.campus_auth)
      terminal_defaults:          # any terminal setting (see terminals.TerminalSettings)
        encoding: utf-8
        due_date_format: sip2
      sort_bins:                  # per library: destination branch (or hold / default) -> CL sort bin
        xuzhou: {main: "1", east: "2", hold: "H", default: "9"}
      media_types:                # per library: material -> 18/12 CK media type (default 001 book)
        xuzhou: {disc: "006", video: "005"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .terminals import PATRON_AUTH_MODES, TerminalSettings, TerminalSettingsError

DEFAULT_WORKERS = 16


@dataclass(frozen=True)
class Sip2Settings:
    workers: int = DEFAULT_WORKERS
    patron_auth: str = "local"
    terminal_defaults: TerminalSettings = field(default_factory=TerminalSettings)
    sort_bins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    media_types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> Sip2Settings:
        known = {"workers", "patron_auth", "terminal_defaults", "sort_bins", "media_types"}
        unknown = set(section) - known
        if unknown:
            raise TerminalSettingsError(f"sip2: unknown setting(s) {', '.join(sorted(unknown))}")
        workers = int(section.get("workers", DEFAULT_WORKERS))
        if not 1 <= workers <= 256:
            raise TerminalSettingsError("sip2.workers must be between 1 and 256")
        auth = str(section.get("patron_auth", "local"))
        if auth not in PATRON_AUTH_MODES:
            raise TerminalSettingsError(f"sip2.patron_auth must be one of {', '.join(PATRON_AUTH_MODES)}")
        return cls(
            workers=workers,
            patron_auth=auth,
            terminal_defaults=TerminalSettings.from_mapping(section.get("terminal_defaults") or {}),
            sort_bins=_nested_strings(section.get("sort_bins") or {}, "sort_bins"),
            media_types=_nested_strings(section.get("media_types") or {}, "media_types"),
        )

    @classmethod
    def from_file(cls, path: str | Path | None) -> Sip2Settings:
        if path is None:
            return cls()
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(document, dict):
            raise TerminalSettingsError(f"{path}: not a mapping")
        return cls.from_mapping(document.get("sip2") or {})


def _nested_strings(value: Any, name: str) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise TerminalSettingsError(f"sip2.{name} maps each library code to a mapping")
    return {str(lib): {str(k): str(v) for k, v in inner.items()} for lib, inner in value.items()}
