"""Counting a title's copies only as far as the policy's rules can tell apart (policies/copies.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from ils_bridge.reasons import Reason
from ils_bridge.services.lookup import copies_of, item_state
from policies.copies import copy_count_cap
from policies.loader import load_policy
from tests.conftest import example_policy
from tests.core.helpers import move_to, patron_with_card, title_with_copies

TZ = "Asia/Ho_Chi_Minh"


def test_the_cap_is_one_above_the_largest_copy_count_a_policy_names():
    xuzhou = example_policy("xuzhou")
    assert "when: {copies: 1}" in xuzhou
    named_seven = xuzhou.replace("when: {copies: 1}", "when: {copies: {min: 7}}")
    with_min_copies = example_policy("danang").replace("min_copies: 2 ", "min_copies: 4 ")
    assert copy_count_cap(load_policy(named_seven, "x")) == 8
    assert copy_count_cap(load_policy(with_min_copies, "d")) == 5
    assert copy_count_cap(load_policy(with_min_copies, "d")) > copy_count_cap(load_policy(example_policy("danang"), "d"))


@pytest.fixture
def lib(make_library, clock):
    move_to(clock, dt.date(2026, 3, 2), TZ)
    return make_library("danang")  # min_copies: 2


def test_a_title_with_more_copies_than_the_cap_lends_and_one_copy_does_not(app, lib):
    patron_with_card(lib, "S1", "staff", group="own_university")
    many = title_with_copies(lib, "MANY", "vn_monograph", copies=9, language="vie")
    [only] = title_with_copies(lib, "ONE", "vn_monograph", copies=1, language="vie")

    def counts(barcode: str) -> tuple[int, int]:
        def read(conn):
            ctx = lib._context(conn, None, None, None)
            state = item_state(ctx, barcode)
            return state.copies, copies_of(ctx, state.item.bib_id)
        return app.db.read(read)

    cap = copy_count_cap(lib.current_policy())
    assert counts(many[0]) == (cap, 9)  # the count stopped at the cap; the exact count is still there to read
    assert counts(only) == (1, 1)
    assert lib.checkout("S1", many[0]).ok
    assert lib.checkout("S1", only).reason == Reason.SINGLE_COPY_TITLE
