"""Notice templates: one YAML file per language, shipped defaults plus per-library overrides.

A template file maps each kind to ``subject`` and ``text``, with
``string.Template`` placeholders (``$title``); the variables of each kind are
listed in :mod:`.kinds`.  A library overrides any entry by placing
``<overrides_dir>/<library code>/<language>.yaml`` with the kinds it changes.

Language choice: the patron's language if there is a template for it, else
the library's language, else English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml

from ils_bridge.connectors.notices.kinds import FALLBACK_LANGUAGE, KINDS, LANGUAGES

PARTS = ("subject", "text")


class TemplateError(ValueError):
    """A template is missing, malformed, or needs a variable the notice does not carry."""


@dataclass(frozen=True)
class RenderedNotice:
    language: str
    subject: str
    text: str


def _parse(text: str, origin: str) -> dict[str, dict[str, str]]:
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise TemplateError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise TemplateError(f"{origin}: must map notice kinds to templates")
    for kind, entry in document.items():
        if kind not in KINDS:
            raise TemplateError(f"{origin}: unknown notice kind {kind!r}")
        if not isinstance(entry, dict) or any(not isinstance(entry.get(part), str) for part in PARTS):
            raise TemplateError(f"{origin}: {kind} needs text for {' and '.join(PARTS)}")
    return document


def shipped_templates(language: str) -> dict[str, dict[str, str]]:
    """The defaults shipped with ils-bridge for one language."""
    source = resources.files(__package__).joinpath("templates", f"{language}.yaml")
    return _parse(source.read_text(encoding="utf-8"), f"templates/{language}.yaml")


class TemplateCatalogue:
    """Looks up and renders the template for (library, language, kind)."""

    def __init__(self, overrides_dir: str | Path | None = None) -> None:
        self.overrides_dir = Path(overrides_dir) if overrides_dir else None
        self._shipped = {language: shipped_templates(language) for language in LANGUAGES}
        self._overrides: dict[tuple[str, str], dict[str, dict[str, str]]] = {}

    def _library_templates(self, library: str, language: str) -> dict[str, dict[str, str]]:
        key = (library, language)
        if key not in self._overrides:
            path = self.overrides_dir / library / f"{language}.yaml" if self.overrides_dir else None
            found = path is not None and path.is_file()
            self._overrides[key] = _parse(path.read_text(encoding="utf-8"), str(path)) if found else {}
        return self._overrides[key]

    def template(self, library: str, language: str, kind: str) -> dict[str, str] | None:
        return self._library_templates(library, language).get(kind) or self._shipped.get(language, {}).get(kind)

    def choose_language(self, library: str, kind: str, *preferences: str | None) -> str:
        for language in (*preferences, FALLBACK_LANGUAGE):
            if language and self.template(library, language, kind):
                return language
        raise TemplateError(f"no template for {kind!r} in any language")

    def render(self, library: str, kind: str, variables: Mapping[str, Any], *preferences: str | None) -> RenderedNotice:
        language = self.choose_language(library, kind, *preferences)
        template = self.template(library, language, kind) or {}
        values = {k: "" if v is None else str(v) for k, v in variables.items()}
        try:
            subject, text = (Template(template[part]).substitute(values) for part in PARTS)
        except KeyError as exc:
            raise TemplateError(f"{library}/{language}/{kind}: the notice has no value for ${exc.args[0]}") from None
        except ValueError as exc:
            raise TemplateError(f"{library}/{language}/{kind}: malformed placeholder: {exc}") from None
        return RenderedNotice(language, subject, text)
