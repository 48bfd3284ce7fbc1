"""The memory engine answers exactly as the SQL engine (the real services) does.

Seeded random scenarios over the five example policies, replayed through
both engines: every output line must be identical.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from zoneinfo import ZoneInfo

import pytest

from ils_bridge.simulation import MEMORY_OPS, simulate
from policies.loader import load_policy
from tests.conftest import example_policy

POLICIES = ("xuzhou", "danang", "hcmc", "jinan", "daknong")
CLASSIFICATIONS = ("R44", "D61", "TP3", "I24", "A1", "Z88", "O4")
LANGUAGES = ("vie", "chi", "eng")


class ScenarioWriter:
    """Random but plausible events for one policy: most valid, some refused, a few malformed."""

    def __init__(self, policy_name: str, seed: int, *, oddity: float = 0.1):
        self.rng = random.Random(seed)
        self.oddity = oddity  # how often a value is wrong on purpose
        self.policy = load_policy(example_policy(policy_name))
        self.zone = ZoneInfo(self.policy.library.timezone)
        self.now = dt.datetime(2026, 3, 2, 9, tzinfo=self.zone)
        self.minor_units = self.policy.library.currency.minor_units
        self.lines: list[str] = []
        self.patrons: list[str] = []
        self.items: list[str] = []
        self.title_of: dict[str, str] = {}
        self.lent: dict[str, str] = {}  # item -> patron, as far as the writer can tell without replaying

    def emit(self, op: str, **fields: object) -> None:
        self.lines.append(json.dumps({"op": op, "at": self.now.isoformat(), **fields}))

    def money(self, low: int, high: int) -> str:
        whole = self.rng.randint(low, high)
        if self.minor_units == 0:
            return str(whole * 1000)
        return f"{whole}.{self.rng.randint(0, 99):02d}"

    def day(self, offset: int | str) -> str:
        return (self.now.date() + dt.timedelta(days=int(offset))).isoformat()

    def odd(self, usual: object, *odd: object) -> object:
        """Usually ``usual``, now and then one of the odd values."""
        return self.rng.choice(odd) if self.rng.random() < self.oddity else usual

    def pick(self, choices: list[str] | tuple[str, ...], stranger: str) -> str:
        return stranger if self.rng.random() < self.oddity / 2 else self.rng.choice(choices)

    def write(self, transactions: int) -> list[str]:
        self.closures()
        for n in range(8):
            self.patron(f"P{n}")
        for n in range(20):
            self.item(f"B{n}", f"t{n // 2}")
        for _ in range(transactions):
            self.transaction()
        return self.lines

    def closures(self) -> None:
        rng = self.rng
        for kind in ("holiday", "vacation", "closed"):
            start = rng.randint(3, 60)
            self.emit("closed", **{"from": self.day(start), "to": self.day(start + rng.randint(0, 25))}, kind=kind, name=kind)
        self.emit("closed", date=self.day(rng.randint(1, 40)), kind="holiday")
        self.emit("closed", date=self.day(5), kind="strike")  # refused: not a closure kind
        self.emit("closed", **{"from": self.day(9), "to": self.day(8)})  # refused: ends before it starts

    def patron(self, number: str) -> None:
        rng, vocabulary = self.rng, self.policy.vocabulary
        fields: dict[str, object] = {"id": number, "type": self.pick(vocabulary["patron_types"], "alien")}
        if "patron_groups" in vocabulary and rng.random() < 0.8:
            fields["group"] = self.pick(vocabulary["patron_groups"], "martians")
        kinds = list(self.policy.cards.kinds)
        if rng.random() < 0.6:
            fields["card_kind"] = self.pick(kinds, "gold")
        if rng.random() < 0.3:
            fields["card_expires"] = self.day(self.odd(rng.choice((40, 120, 400)), -3))
        if rng.random() < 0.3:
            fields["card"] = f"C-{number}"
        if self.policy.packages and rng.random() < 0.6:
            fields["package"] = self.pick(list(self.policy.packages), "package-free")
        if rng.random() < 0.5:
            fields["deposit"] = self.odd(self.money(100, 900), "-5", "0.001")
        self.emit("patron", **fields)
        self.patrons.append(number)

    def item(self, barcode: str, title: str) -> None:
        rng = self.rng
        fields: dict[str, object] = {"barcode": barcode, "title": title,
                                     "material": self.pick(self.policy.vocabulary["materials"], "scroll"),
                                     "classification": rng.choice(CLASSIFICATIONS), "language": rng.choice(LANGUAGES),
                                     "copies": rng.choice((1, 1, 2, 3)), "pub_year": rng.randint(1980, 2025)}
        if rng.random() < 0.8:
            fields["price"] = self.odd(self.money(10, 250), "0", "abc")
        if "collections" in self.policy.vocabulary:
            fields["collection"] = rng.choice(self.policy.vocabulary["collections"])
        if rng.random() < 0.1:
            fields["currency"] = self.odd(self.policy.library.currency.code, "USD")
        self.emit("item", **fields)
        self.items.append(barcode)
        self.title_of[barcode] = title

    def transaction(self) -> None:
        rng = self.rng
        self.now += dt.timedelta(hours=rng.choice((0, 0, 1, 1, 3, 5, 20, 30, 24 * 7, 24 * 20)) / 2)
        patron, item = self.pick(self.patrons, "P-unknown"), self.pick(self.items, "B-unknown")
        if self.lent and rng.random() < 0.7:  # mostly act on what was (probably) lent, as a library does
            item = rng.choice(sorted(self.lent))
            patron = self.lent[item] if rng.random() < 0.9 else patron
        weights = (40, 15, 30, 8, 6, 8, 3, 1) if self.oddity else (40, 10, 12, 15, 10, 8, 3, 0)  # clean: loans run late
        op = rng.choices(("checkout", "renew", "checkin", "pay", "tick", "hold", "cancel_hold", "bad"), weights=weights)[0]
        if op == "checkout":
            self.emit("checkout", patron=patron, item=item, **({"renew_if_own": True} if rng.random() < 0.2 else {}))
            self.lent.setdefault(item, patron)
        elif op == "renew":
            self.emit("renew", patron=patron, item=item)
        elif op == "checkin":
            self.emit("checkin", item=item)
            self.lent.pop(item, None)
        elif op == "pay":
            amount = self.odd(self.money(1, 3), self.money(1, 30), "1000000", "0.001")
            self.emit("pay", patron=patron, amount=amount, **({"currency": "USD"} if rng.random() < 0.1 else {}))
        elif op == "tick":
            self.emit("tick")
        elif op == "hold":
            target = {"item": item} if rng.random() < 0.5 else {"title": self.title_of.get(item, "t-unknown")}
            if rng.random() < 0.3:
                target["lapse_on"] = self.day(self.odd(rng.choice((2, 10, 30)), -1))
            self.emit("hold", patron=self.pick(self.patrons, "P-unknown"), **target)  # someone else wants it
        elif op == "cancel_hold":
            self.emit("cancel_hold", patron=patron, item=item)
        else:
            self.lines.append(rng.choice(('{"op": "checkout"', json.dumps({"op": "fly", "at": self.now.isoformat()}),
                                          json.dumps({"op": "checkin", "item": item}), "[1, 2]",
                                          json.dumps({"op": "renew", "at": self.now.isoformat(), "item": item}))))


@pytest.mark.parametrize("policy_name", POLICIES)
@pytest.mark.parametrize("seed", range(3))
def test_memory_engine_matches_the_services(policy_name, seed):
    lines = ScenarioWriter(policy_name, seed).write(transactions=160)
    memory = simulate(example_policy(policy_name), lines)
    assert memory.engine == "memory"
    expected = list(simulate(example_policy(policy_name), lines, engine="sql"))
    got = list(memory)
    assert len(got) == len(expected)
    for number, (mine, theirs) in enumerate(zip(got, expected), start=1):
        assert mine == theirs, f"line {number}: {lines[number - 1]}"
    assert any(r["ok"] and r["op"] == "checkout" for r in got)  # the scenario did lend things


@pytest.mark.parametrize("policy_name", POLICIES)
def test_memory_engine_matches_the_services_on_a_busy_clean_scenario(policy_name):
    """No wrong values on purpose: more loans, late returns, fines, payments and deposit deductions."""
    lines = ScenarioWriter(policy_name, 100, oddity=0).write(transactions=220)
    got = list(simulate(example_policy(policy_name), lines))
    expected = list(simulate(example_policy(policy_name), lines, engine="sql"))
    for number, (mine, theirs) in enumerate(zip(got, expected), start=1):
        assert mine == theirs, f"line {number}: {lines[number - 1]}"
    assert len(got) == len(expected)
    assert sum(r["ok"] for r in got if r["op"] in ("checkout", "checkin", "renew")) >= 3


def _engine_after_replay(lines: list[str], engine: str = "auto") -> str:
    replay = simulate(example_policy("xuzhou"), lines, engine)
    for _ in replay:
        pass
    return replay.engine


def test_ops_the_memory_engine_does_not_mirror_move_the_replay_to_sql():
    lines = ScenarioWriter("xuzhou", 7).write(transactions=20)
    assert _engine_after_replay(lines) == "memory"
    for extra in ({"op": "lost", "item": "B1"}, {"op": "recall", "item": "B1"}, {"op": "waive", "patron": "P1"},
                  {"op": "pay", "patron": "P1", "amount": "1.00", "fee": 3}, {"op": "checkin", "item": " B1"},
                  {"op": "patron", "id": "P1", "type": "phd"}, {"op": "item", "barcode": "X", "material": "zh_book", "closed_stack": None}):
        event = json.dumps({"at": "2026-05-01T10:00:00+08:00", **extra})
        assert _engine_after_replay([*lines, event]) == "sql", extra
    with pytest.raises(ValueError, match="memory engine"):
        simulate(example_policy("xuzhou"), [*lines, json.dumps({"op": "tick", "at": None})], engine="memory")
    assert {"lost", "damage", "recall", "waive"}.isdisjoint(MEMORY_OPS)


def test_a_replay_that_moves_to_sql_after_many_batches_answers_as_the_sql_engine_all_along():
    """The memory engine answers the first batches (of 16 lines here); from the batch holding a ``lost`` the SQL
    engine answers, having replayed what came before unseen: every line as the SQL engine alone gives it."""
    lines = ScenarioWriter("xuzhou", 13, oddity=0).write(transactions=90)
    lost = json.dumps({"op": "lost", "at": "2026-05-01T10:00:00+08:00", "item": "B1"})
    late = [*lines[:-5], lost, *lines[-5:]]
    assert _engine_after_replay(lines) == "memory"
    replay = simulate(example_policy("xuzhou"), late, batch_size=16)
    assert replay.engine == "memory"
    got = list(replay)
    assert replay.engine == "sql" and replay.sql_from == len(lines) - 4
    assert got == list(simulate(example_policy("xuzhou"), late, engine="sql"))
    assert len(lines) > 4 * 16 and sum(r["ok"] for r in got if r["op"] == "checkout") >= 3


def test_holds_trap_expire_and_pass_on_alike_in_both_engines():
    """Xuzhou: a returned copy waits 7 days for the first in the queue, then goes to the next; renewals see the queue."""
    def at(day: str) -> str:
        return f"{day}T10:00:00+08:00"

    events = [
        *({"op": "patron", "at": at("2026-03-02"), "id": p, "type": "undergraduate"} for p in ("A", "B", "C")),
        {"op": "item", "at": at("2026-03-02"), "barcode": "X", "title": "t", "material": "zh_book", "classification": "R44", "copies": 2},
        {"op": "checkout", "at": at("2026-03-02"), "patron": "A", "item": "X"},
        {"op": "checkout", "at": at("2026-03-02"), "patron": "A", "item": "X#copy2"},
        {"op": "hold", "at": at("2026-03-03"), "patron": "B", "title": "t"},
        {"op": "hold", "at": at("2026-03-04"), "patron": "C", "item": "X"},
        {"op": "renew", "at": at("2026-03-05"), "patron": "A", "item": "X"},  # refused: others wait (and recalled)
        {"op": "checkin", "at": at("2026-03-06"), "item": "X"},  # trapped for B, first in the queue
        {"op": "checkout", "at": at("2026-03-06"), "patron": "C", "item": "X"},  # refused: on the shelf for B
        {"op": "tick", "at": at("2026-03-14")},  # B never came: the copy passes to C
        {"op": "checkout", "at": at("2026-03-14"), "patron": "B", "item": "X"},
        {"op": "checkout", "at": at("2026-03-14"), "patron": "C", "item": "X"},
        {"op": "cancel_hold", "at": at("2026-03-15"), "patron": "C", "item": "X"},  # fulfilled: nothing to cancel
    ]
    lines = [json.dumps(e) for e in events]
    memory = simulate(example_policy("xuzhou"), lines)
    assert memory.engine == "memory"
    got = list(memory)
    assert got == list(simulate(example_policy("xuzhou"), lines, engine="sql"))
    assert [r["reason"] for r in got[6:]] == [
        None, None, "item_on_hold", None, "item_on_hold", None, "item_on_hold", None, "unknown_hold"]
