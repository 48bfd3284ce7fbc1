"""Load and validate a policy file.

Three passes, each reporting every problem with the file, line and field:

1. YAML syntax (``yaml_lines``), duplicate keys included.
2. Structure against ``schema.json``: unknown keys, wrong types, missing
   required fields, values outside their enumerations.
3. Meaning: values drawn from the declared vocabulary, amounts valid in the
   library's currency, loanable rules with a period, ranges in order,
   and rule sets without ambiguous ties (see ``policies.matcher``).

Nothing is defaulted silently: a missing optional section takes the
documented default (docs/policy-language.md), but a blank value where one is
required is an error, never zero.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any, Callable

import jsonschema

from ils_bridge.calendar import WEEKDAYS, Closure
from ils_bridge.money import Currency, InvalidAmount, UnknownCurrency, currency, to_minor
from ils_bridge.reasons import Reason
from policies import model as m
from policies.conditions import Condition, Conditions
from policies.matcher import RuleSet
from policies.yaml_lines import Path, YamlError, load_with_lines

SCHEMA_FILE = FsPath(__file__).with_name("schema.json")
FORMAT = "ils-bridge/1"

# Which vocabulary list a fact's values must come from.
FACT_VOCABULARY = {
    "patron_type": "patron_types",
    "patron_group": "patron_groups",
    "material": "materials",
    "collection": "collections",
    "class": "classes",
    "branch": "branches",
}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field or '(top)'}: {self.message}"


class PolicyError(ValueError):
    """A policy file that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def load_policy_file(path: str | FsPath) -> m.Policy:
    path = FsPath(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(str(path), 1, "", f"cannot read the file: {exc}")]) from None
    return load_policy(text, str(path))


def load_policy(text: str, filename: str = "<policy>") -> m.Policy:
    try:
        data, lines = load_with_lines(text)
    except YamlError as exc:
        raise PolicyError([Problem(filename, exc.line, "", exc.message)]) from None
    builder = _Builder(filename, lines)
    schema_problems = [builder.problem(tuple(e.absolute_path), _schema_message(e)) for e in _validator().iter_errors(data)]
    if schema_problems:
        raise PolicyError(sorted(schema_problems, key=lambda p: p.line))
    policy = builder.build(data, text)
    if builder.problems:
        raise PolicyError(sorted(builder.problems, key=lambda p: p.line))
    return policy


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.instance is None and error.validator in ("type", "anyOf", "enum", "const"):
        return "is blank: give a value (a blank is never read as zero)"
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator in ("anyOf", "oneOf"):
        return f"{error.instance!r} is not a valid value here"
    return error.message


class _Builder:
    def __init__(self, filename: str, lines: dict[Path, int]):
        self.filename = filename
        self.lines = lines
        self.problems: list[Problem] = []
        self.vocabulary: dict[str, tuple[str, ...]] = {}
        self.cur: Currency | None = None

    # -- reporting -------------------------------------------------------
    def problem(self, path: Path, message: str) -> Problem:
        line = next((self.lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in self.lines), 1)
        return Problem(self.filename, line, ".".join(str(p) for p in path), message)

    def error(self, path: Path, message: str) -> None:
        self.problems.append(self.problem(path, message))

    # -- values ----------------------------------------------------------
    def amount(self, value: Any, path: Path, default: Decimal | None = None) -> Decimal | None:
        if value is None:
            return default
        try:
            amount = Decimal(str(value).replace(",", "").strip())
            if not amount.is_finite() or amount < 0:
                raise InvalidAmount(f"{value!r} is not a non-negative amount")
            if self.cur is not None:
                to_minor(amount, self.cur)
        except (ArithmeticError, InvalidAmount) as exc:
            self.error(path, str(exc) if isinstance(exc, InvalidAmount) else f"{value!r} is not an amount")
            return default
        return amount

    def factor(self, value: Any, path: Path) -> Decimal:
        try:
            result = Decimal(str(value))
        except ArithmeticError:
            self.error(path, f"{value!r} is not a number")
            return Decimal(0)
        if result < 0:
            self.error(path, "must not be negative")
        return result

    def date(self, value: str, path: Path) -> dt.date | None:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.error(path, f"{value!r} is not a valid date")
            return None

    def conditions(self, raw: dict[str, Any] | None, path: Path, allowed: tuple[str, ...] = m.ALL_FACTS) -> Conditions:
        items = []
        for key, value in (raw or {}).items():
            if key not in allowed:
                self.error(path + (key,), f"{key} cannot be tested here (allowed: {', '.join(allowed)})")
                continue
            items.append(self._condition(key, value, path + (key,)))
        return Conditions(tuple(items))

    def _condition(self, key: str, value: Any, path: Path) -> Condition:
        if value is None:
            return Condition(key, "absent")
        if isinstance(value, dict):
            if "not" in value:
                return Condition(key, "not_in", self._known(key, _as_tuple(value["not"]), path))
            if "prefix" in value:
                return Condition(key, "prefix", _as_tuple(value["prefix"]))
            low, high = value.get("min"), value.get("max")
            if low is not None and high is not None and low > high:
                self.error(path, f"min {low} is greater than max {high}")
            return Condition(key, "range", low=low, high=high)
        return Condition(key, "in", self._known(key, _as_tuple(value), path))

    def _known(self, key: str, values: tuple[Any, ...], path: Path) -> tuple[Any, ...]:
        vocab_name = FACT_VOCABULARY.get(key)
        known = self.vocabulary.get(vocab_name or "")
        if known:
            for value in values:
                if value not in known:
                    self.error(path, f"{value!r} is not a declared {vocab_name[:-1].replace('_', ' ')} ({', '.join(known)})")
        if key == "package":
            for value in values:
                if value not in self.package_codes:
                    self.error(path, f"{value!r} is not a declared package")
        return values

    def ruleset(self, raw_rules: list[dict[str, Any]], path: Path, make: Callable[[dict[str, Any], Path, Conditions], Any],
                allowed: tuple[str, ...] = m.ALL_FACTS) -> RuleSet:
        rules = []
        seen: set[str] = set()
        for i, raw in enumerate(raw_rules):
            rule_path = path + (i,)
            if raw["id"] in seen:
                self.error(rule_path + ("id",), f"rule id {raw['id']!r} is used twice")
            seen.add(raw["id"])
            rules.append(make(raw, rule_path, self.conditions(raw.get("when"), rule_path + ("when",), allowed)))
        ruleset = RuleSet(rules)
        index = {r.id: i for i, r in enumerate(rules)}
        for a, b in ruleset.ambiguities():
            self.error(path + (index[b.id],), f"rules {a.id!r} and {b.id!r} have the same priority and specificity "
                       "and could both apply: give one a higher priority or make their conditions exclusive")
        return ruleset

    # -- sections ----------------------------------------------------------
    def build(self, data: dict[str, Any], text: str) -> m.Policy:
        info = self.library(data["library"])
        self.vocabulary = {k: tuple(v) for k, v in data["vocabulary"].items()}
        self.package_codes = {p["code"] for p in data.get("packages", [])}
        packages = self.packages(data.get("packages", []))
        return m.Policy(
            library=info,
            vocabulary=self.vocabulary,
            calendar=self.calendar(data.get("calendar", {})),
            classes=self.ruleset(data.get("classes", []), ("classes",), self.class_rule, m.ITEM_FACTS),
            loans=self.loans(data["loans"]),
            limits=self.limits(data.get("limits", []), packages),
            packages=packages,
            borrowing=self.borrowing(data.get("borrowing", {})),
            holds=self.holds(data.get("holds", {})),
            fines=self.fines(data["fines"]),
            lost=self.lost(data.get("lost", {})),
            damage=self.damage(data.get("damage", {})),
            theft=self.ruleset(data.get("theft", []), ("theft",), self.theft_rule, m.ITEM_FACTS),
            deposits=self.deposits(data.get("deposits", {})),
            cards=self.cards(data.get("cards", {})),
            registration_approval=data.get("registration", {}).get("approval_required", False),
            waiver_approvals=tuple(data.get("waivers", {}).get("approvals", [])),
            ill=self.ill(data.get("ill", {})),
            notices=data.get("notices", {}),
            source=text,
        )

    def library(self, raw: dict[str, Any]) -> m.LibraryInfo:
        try:
            self.cur = currency(raw["currency"])
        except UnknownCurrency as exc:
            self.error(("library", "currency"), str(exc))
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(raw["timezone"])
        except (KeyError, ValueError, OSError):
            self.error(("library", "timezone"), f"unknown timezone {raw['timezone']!r}")
        return m.LibraryInfo(raw["code"], raw["name"], self.cur or Currency(raw["currency"], 2), raw["timezone"], raw["language"])

    def calendar(self, raw: dict[str, Any]) -> m.CalendarPolicy:
        closures = []
        for i, c in enumerate(raw.get("closures", [])):
            path = ("calendar", "closures", i)
            start = self.date(c["from"], path + ("from",))
            end = self.date(c.get("to", c["from"]), path + ("to",))
            if start and end:
                if end < start:
                    self.error(path, f"ends ({end}) before it starts ({start})")
                closures.append(Closure(start, end, c["kind"], c.get("name", "")))
        hours = {}
        for day, span in raw.get("opening_hours", {}).items():
            if span != "closed":
                opens, closes = span.split("-")
                if opens >= closes:
                    self.error(("calendar", "opening_hours", day), f"opens at {opens} but closes at {closes}")
                hours[WEEKDAYS.index(day)] = (opens, closes)
        weekly = frozenset(WEEKDAYS.index(d) for d in raw.get("weekly_closed", []))
        for day, span in raw.get("opening_hours", {}).items():
            if (span == "closed") != (WEEKDAYS.index(day) in weekly) and "weekly_closed" in raw:
                self.error(("calendar", "opening_hours", day), f"{day} is {span} here but not in weekly_closed accordingly")
        if "weekly_closed" not in raw:
            weekly = frozenset(WEEKDAYS.index(d) for d, s in raw.get("opening_hours", {}).items() if s == "closed")
        return m.CalendarPolicy(weekly, hours, tuple(closures), raw.get("due_dates_avoid_closed", False))

    def class_rule(self, raw: dict[str, Any], path: Path, when: Conditions) -> m.ClassRule:
        if raw["class"] not in self.vocabulary.get("classes", ()):
            self.error(path + ("class",), f"{raw['class']!r} is not a declared class")
        return m.ClassRule(raw["id"], when, raw.get("priority", 0), item_class=raw["class"])

    def loans(self, raw: dict[str, Any]) -> RuleSet[m.LoanRule]:
        defaults = raw.get("defaults", {})

        def make(rule: dict[str, Any], path: Path, when: Conditions) -> m.LoanRule:
            terms = {**defaults, **rule}
            loanable = terms.get("loanable", True)
            if loanable and "period_days" not in terms:
                self.error(path, "a loanable rule needs period_days (here or in loans.defaults)")
            if not loanable and "period_days" in rule:
                self.error(path + ("period_days",), "a rule that is not loanable cannot have a loan period")
            if "reason" in rule and loanable:
                self.error(path + ("reason",), "only a rule that is not loanable gives a refusal reason")
            return m.LoanRule(
                rule["id"], when, rule.get("priority", 0),
                loanable=loanable,
                reason=terms.get("reason", Reason.NOT_LOANABLE.value),
                period_days=terms.get("period_days", 0),
                renewals=terms.get("renewals", 0),
                renew_from=terms.get("renew_from", "renewal_day"),
                renew_before_due_only=terms.get("renew_before_due_only", True),
                renew_refused_if=tuple(terms.get("renew_refused_if", ())),
                min_copies=terms.get("min_copies", 1),
            )

        return self.ruleset(raw["rules"], ("loans", "rules"), make)

    def limits(self, raw: list[dict[str, Any]], packages: dict[str, m.Package]) -> tuple[m.LimitRule, ...]:
        rules = []
        for i, r in enumerate(raw):
            path = ("limits", i)
            if "max_items" not in r and "max_value" not in r:
                self.error(path, "a limit needs max_items or max_value")
            counts = self.conditions(r["counts"], path + ("counts",), m.ITEM_FACTS) if "counts" in r else None
            rules.append(m.LimitRule(
                r["id"], self.conditions(r.get("when"), path + ("when",), m.PATRON_FACTS), r.get("priority", 0),
                counts=counts, max_items=r.get("max_items"), max_value=self.amount(r.get("max_value"), path + ("max_value",)),
            ))
        for p in packages.values():
            rules.append(m.LimitRule(
                f"package-{p.code}", Conditions((Condition("package", "in", (p.code,)),)), 0,
                max_items=p.max_items, max_value=p.max_value, value_reason=Reason.PACKAGE_VALUE_EXCEEDED.value,
            ))
        ids = [r.id for r in rules]
        for i, rule_id in enumerate(ids):
            if rule_id in ids[:i]:
                self.error(("limits", min(i, len(raw) - 1)), f"limit id {rule_id!r} is used twice")
        by_group: dict[str, list[m.LimitRule]] = {}
        for rule in rules:
            by_group.setdefault(rule.group, []).append(rule)
        for group in by_group.values():
            for a, b in RuleSet(group).ambiguities():
                self.error(("limits",), f"limits {a.id!r} and {b.id!r} count the same loans, tie on precedence and "
                           "could both apply: give one a higher priority or make their conditions exclusive")
        return tuple(rules)

    def packages(self, raw: list[dict[str, Any]]) -> dict[str, m.Package]:
        result = {}
        for i, p in enumerate(raw):
            path = ("packages", i)
            if p["code"] in result:
                self.error(path + ("code",), f"package {p['code']!r} is declared twice")
            result[p["code"]] = m.Package(
                p["code"], self.amount(p["price"], path + ("price",)), p["valid_days"], p["max_items"],
                self.amount(p.get("max_value"), path + ("max_value",)),
            )
        return result

    def borrowing(self, raw: dict[str, Any]) -> m.BorrowingPolicy:
        return m.BorrowingPolicy(
            tuple(raw.get("refuse_if", ())), self.amount(raw.get("fines_threshold", 0), ("borrowing", "fines_threshold"))
        )

    def holds(self, raw: dict[str, Any]) -> m.HoldPolicy:
        return m.HoldPolicy(
            allowed_when=raw.get("allowed_when", "always"),
            shelf_days=raw.get("shelf_days", 7),
            shelf_paused_by=tuple(raw.get("shelf_paused_by", ())),
            patron_lapse_date=raw.get("patron_lapse_date", False),
            recall_notice=raw.get("recall_notice", False),
            max_per_patron=raw.get("max_per_patron"),
        )

    def fines(self, raw: dict[str, Any]) -> m.FinePolicy:
        def make(rule: dict[str, Any], path: Path, when: Conditions) -> m.FineRule:
            if ("per_day" in rule) == ("flat" in rule):
                self.error(path, "a fine rule needs exactly one of per_day or flat")
            return m.FineRule(
                rule["id"], when, rule.get("priority", 0),
                per_day=self.amount(rule.get("per_day"), path + ("per_day",)),
                flat=self.amount(rule.get("flat"), path + ("flat",)),
                cap=self.amount(rule.get("cap"), path + ("cap",)),
            )

        grace = tuple(m.GraceRule(g["closure"], g["days_after"]) for g in raw.get("grace", []))
        return m.FinePolicy(
            self.ruleset(raw["rules"], ("fines", "rules"), make), grace, raw.get("grace_counts_from", "closure_end")
        )

    def lost(self, raw: dict[str, Any]) -> m.LostPolicy:
        def make(rule: dict[str, Any], path: Path, when: Conditions) -> m.LostRule:
            return m.LostRule(rule["id"], when, rule.get("priority", 0), multiple=self.factor(rule["multiple"], path + ("multiple",)))

        rng = raw.get("multiple_range")
        multiple_range = None
        if rng:
            low, high = self.factor(rng["min"], ("lost", "multiple_range", "min")), self.factor(rng["max"], ("lost", "multiple_range", "max"))
            if low > high:
                self.error(("lost", "multiple_range"), f"min {low} is greater than max {high}")
            multiple_range = (low, high)
        fee = raw.get("processing_fee", 0)
        return m.LostPolicy(
            rules=self.ruleset(raw.get("rules", [{"id": "price", "multiple": 1}]), ("lost", "rules"), make, m.ITEM_FACTS),
            base_value=raw.get("base_value", "price"),
            first_reader_surcharge=self.factor(raw.get("first_reader_surcharge", 0), ("lost", "first_reader_surcharge")),
            processing_fee=None if fee == "staff_entered" else self.amount(fee, ("lost", "processing_fee")),
            replacement_copy_fee=self.amount(raw.get("replacement_copy_fee", 0), ("lost", "replacement_copy_fee")),
            include_overdue_fine=raw.get("include_overdue_fine", False),
            refund_within_days=raw.get("refund_within_days"),
            refund_fee=self.amount(raw.get("refund_fee", 0), ("lost", "refund_fee")),
            multiple_range=multiple_range,
            multi_volume=raw.get("multi_volume", "volume_price"),
        )

    def damage(self, raw: dict[str, Any]) -> m.DamagePolicy:
        kinds = {}
        for i, k in enumerate(raw.get("kinds", [])):
            path = ("damage", "kinds", i)
            if k["id"] in kinds:
                self.error(path + ("id",), f"damage kind {k['id']!r} is declared twice")
            if k.get("rebinding") and not raw.get("rebinding"):
                self.error(path + ("rebinding",), "rebinding is charged but damage.rebinding gives no amounts")
            kinds[k["id"]] = m.DamageKind(
                k["id"], self.amount(k["amount"], path + ("amount",)), k.get("per_unit", False), k.get("cap_at_price", False),
                self.factor(k["cleanable_factor"], path + ("cleanable_factor",)) if "cleanable_factor" in k else None,
                k.get("rebinding", False),
            )
        rebinding = {b: self.amount(v, ("damage", "rebinding", b)) for b, v in raw.get("rebinding", {}).items()}

        def make(rule: dict[str, Any], path: Path, when: Conditions) -> m.DamageMultiplier:
            for kind in rule.get("applies_to", []):
                if kind not in kinds:
                    self.error(path + ("applies_to",), f"{kind!r} is not a declared damage kind")
            return m.DamageMultiplier(
                rule["id"], when, rule.get("priority", 0), multiple=self.factor(rule["multiple"], path + ("multiple",)),
                uncapped=rule.get("uncapped", False), applies_to=tuple(rule.get("applies_to", kinds)),
            )

        return m.DamagePolicy(kinds, rebinding, self.ruleset(raw.get("multipliers", []), ("damage", "multipliers"), make, m.ITEM_FACTS))

    def theft_rule(self, raw: dict[str, Any], path: Path, when: Conditions) -> m.TheftRule:
        return m.TheftRule(raw["id"], when, raw.get("priority", 0), multiple=self.factor(raw["multiple"], path + ("multiple",)))

    def deposits(self, raw: dict[str, Any]) -> m.DepositPolicy:
        def make(rule: dict[str, Any], path: Path, when: Conditions) -> m.DepositRule:
            return m.DepositRule(rule["id"], when, rule.get("priority", 0), amount=self.amount(rule["amount"], path + ("amount",)))

        deduction = raw.get("overdue_deduction")
        return m.DepositPolicy(
            required=self.ruleset(raw.get("required", []), ("deposits", "required"), make),
            deduction_after_days=deduction["after_days"] if deduction else None,
            deduction_percent_per_day=self.factor(deduction["percent_per_day"], ("deposits", "overdue_deduction", "percent_per_day")) if deduction else Decimal(0),
            recall_notices_before_apply=raw.get("recall_notices_before_apply"),
        )

    def cards(self, raw: dict[str, Any]) -> m.CardPolicy:
        kinds = {}
        for i, k in enumerate(raw.get("kinds", [{"kind": "borrowing", "fee": 0, "validity_days": "set_by_staff"}])):
            path = ("cards", "kinds", i)
            validity = k["validity_days"]
            kinds[k["kind"]] = m.CardKind(
                k["kind"], self.amount(k["fee"], path + ("fee",)), None if validity == "set_by_staff" else validity, k.get("loans", True)
            )
        ban = raw.get("ban_months")
        if ban and ban["min"] > ban["max"]:
            self.error(("cards", "ban_months"), f"min {ban['min']} is greater than max {ban['max']}")
        group = raw.get("group")
        group_policy = None
        if group:
            discount = group.get("discount", {})
            group_policy = m.GroupCardPolicy(
                self.amount(group["fee_per_unit"], ("cards", "group", "fee_per_unit")), group["validity_days"],
                discount.get("members_below"), self.factor(discount.get("percent", 0), ("cards", "group", "discount", "percent")),
                discount.get("approval"),
            )
        return m.CardPolicy(
            kinds, raw.get("replacement", "same_number"), self.amount(raw.get("replacement_fee", 0), ("cards", "replacement_fee")),
            (ban["min"], ban["max"]) if ban else None, group_policy,
        )

    def ill(self, raw: dict[str, Any]) -> m.IllPolicy:
        return m.IllPolicy(self.factor(raw.get("subsidy_percent", 0), ("ill", "subsidy_percent")), raw.get("subsidy_only_within_field", False))


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)
