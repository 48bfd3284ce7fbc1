"""Message catalogs: every reason in every language, the same adapter texts and placeholders everywhere."""

from __future__ import annotations

import re

import pytest

from ils_bridge.reasons import Reason
from sip2_server.catalog import available_languages, catalog_for, load_catalog

LANGUAGES = ["en", "zh", "vi"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_the_three_catalogs_exist():
    assert set(LANGUAGES) <= set(available_languages())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reason_has_a_screen_message_and_print_line(language):
    catalog = load_catalog(language)
    missing = [r.value for r in Reason if not catalog.reasons.get(r.value, {}).get("screen")
               or not catalog.reasons.get(r.value, {}).get("print")]
    assert missing == []
    assert set(catalog.reasons) == {r.value for r in Reason}, "entries for reasons that do not exist"


@pytest.mark.parametrize("language", ["zh", "vi"])
def test_translations_have_the_same_texts_and_placeholders_as_english(language):
    english, other = load_catalog("en"), load_catalog(language)
    assert set(other.messages) == set(english.messages)
    for key, text in english.messages.items():
        assert set(PLACEHOLDER.findall(other.messages[key])) == set(PLACEHOLDER.findall(text)), key
    for reason, entry in english.reasons.items():
        assert set(PLACEHOLDER.findall(other.reasons[reason]["screen"])) == set(PLACEHOLDER.findall(entry["screen"]))


def test_texts_are_really_translated():
    assert catalog_for("zh").screen(Reason.LIMIT_REACHED) != catalog_for("en").screen(Reason.LIMIT_REACHED)
    assert catalog_for("vi").text("session_ended") != catalog_for("en").text("session_ended")


def test_language_choice_and_fallback():
    assert catalog_for("zh-CN").language == "zh"
    assert catalog_for("xx").language == "en"
    assert catalog_for(None).language == "en"
    assert catalog_for("zh").sip2_code == "019" and catalog_for("vi").sip2_code == "000"


def test_placeholders_are_filled_and_unknown_ones_stay_visible():
    en = catalog_for("en")
    assert en.screen(Reason.WRONG_CURRENCY, currency="VND") == "Payments here are in VND only."
    assert en.text("hold_placed") == "Hold placed. Your place in the queue: {position}."
