"""Shipped notice templates and their lookup: every kind in every language, fallbacks, overrides."""

from __future__ import annotations

from pathlib import Path
from string import Template

import pytest

from ils_bridge.connectors.notices.kinds import COMMON_VARIABLES, KINDS, LANGUAGES, VARIABLES
from ils_bridge.connectors.notices.templates import TemplateCatalogue, TemplateError, shipped_templates


def sample(kind: str) -> dict[str, str]:
    return {name: f"<{name}>" for name in (*COMMON_VARIABLES, *VARIABLES[kind])}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_ships_in_every_language_using_only_its_documented_variables(language: str) -> None:
    templates = shipped_templates(language)
    assert set(templates) == set(KINDS)
    for kind, entry in templates.items():
        used = {
            m.group("named") or m.group("braced")
            for part in entry.values()
            for m in Template.pattern.finditer(part)
            if m.group("named") or m.group("braced")
        }
        assert used <= set(sample(kind)), f"{language}/{kind} uses undocumented {used - set(sample(kind))}"
        rendered = TemplateCatalogue().render("x", kind, sample(kind), language)
        assert rendered.language == language and "<name>" in rendered.text and "$" not in rendered.text


def test_language_preference_then_library_then_english() -> None:
    catalogue = TemplateCatalogue()
    variables = sample("hold_expired")
    assert catalogue.render("x", "hold_expired", variables, "vi", "zh").language == "vi"
    assert catalogue.render("x", "hold_expired", variables, "fr", "zh").language == "zh"
    assert catalogue.render("x", "hold_expired", variables, None, "de").language == "en"


def test_library_override_replaces_only_its_kinds(tmp_path: Path) -> None:
    (tmp_path / "xuzhou").mkdir()
    (tmp_path / "xuzhou" / "en.yaml").write_text('fine: {subject: "Pay up", text: "$name owes $amount $currency"}\n')
    catalogue = TemplateCatalogue(tmp_path)
    fine = catalogue.render("xuzhou", "fine", sample("fine"), "en")
    assert (fine.subject, fine.text) == ("Pay up", "<name> owes <amount> <currency>")
    assert catalogue.render("other", "fine", sample("fine"), "en").subject != "Pay up"
    assert "<title>" in catalogue.render("xuzhou", "recall", sample("recall"), "en").text


def test_missing_variable_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match=r"no value for \$due_date"):
        TemplateCatalogue().render("x", "due_soon", {"name": "A", "library": "L", "title": "T"}, "en")


@pytest.mark.parametrize(
    "text, message",
    [
        ("fine: [oops", "not valid YAML"),
        ("fines: {subject: a, text: b}", "unknown notice kind"),
        ("fine: {subject: a}", "needs text"),
    ],
)
def test_broken_override_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "en.yaml").write_text(text)
    with pytest.raises(TemplateError, match=message):
        TemplateCatalogue(tmp_path).render("lib", "fine", sample("fine"), "en")
