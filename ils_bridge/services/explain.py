"""Explain a decision without making it: which rules applied to this patron and item, and why.

The facts are gathered exactly as checkout, renewal and holds gather them, and
the same decision functions run, so the explanation cannot drift from what the
desk or a kiosk would be told.
"""

from __future__ import annotations

from typing import Any

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.accounts import availability
from ils_bridge.services.context import Ctx
from ils_bridge.services.circulation import account_of, renewal_facts
from ils_bridge.services.lookup import active_loan_of_item, find_item, find_patron, item_facts, patron_facts, patron_standing_refusal
from policies.decisions import Decision, Step, decide_checkout, decide_hold, decide_renewal

ACTIONS = ("checkout", "renew", "hold")


def explain(ctx: Ctx, patron: str, item: str, action: str = "checkout") -> dict[str, Any]:
    if action not in ACTIONS:
        raise Refusal(Reason.INVALID_REQUEST, f"explain knows {', '.join(ACTIONS)}, not {action!r}")
    ref = find_patron(ctx, patron)
    row = find_item(ctx, item)
    pfacts, ifacts = patron_facts(ctx, ref), item_facts(ctx, row)
    standing = patron_standing_refusal(ctx, ref)
    class_rule = ctx.policy.classes.first(ifacts) if row.classification else None
    if standing is not None and action != "renew":
        decision = Decision(ok=False, reason=standing.reason, rule="patron:standing",
                            steps=[Step("patron", "standing", "refuse", standing.message)])
    elif action == "checkout":
        decision = decide_checkout(ctx.policy, ctx.calendar, account_of(ctx, ref), ifacts, ctx.money(row.price_minor), ctx.today,
                                   explain=True)
    elif action == "renew":
        decision = _renew(ctx, ref, row)
    else:
        available = any(c["status"] == "available" for c in _copies(ctx, row.bib_id))
        decision = decide_hold(ctx.policy, available, 0)
    return {
        "action": action, "ok": decision.ok, "reason": decision.reason.value if decision.reason else None,
        "rule": decision.rule, "due": decision.due, "policy_version": ctx.policy.version,
        "patron": {"number": ref.row.number, **pfacts}, "item": {"barcode": row.barcode, **ifacts},
        "class_rule": class_rule.id if class_rule else None,
        "steps": [{"rule": st.rule_ref, "verdict": st.verdict, "detail": st.detail} for st in decision.steps],
    }


def _renew(ctx: Ctx, ref: Any, row: Any) -> Decision:
    loan = active_loan_of_item(ctx, row.id)
    if loan is None or loan.patron_id != ref.id:
        return Decision(ok=False, reason=Reason.ITEM_NOT_CHECKED_OUT, steps=[
            Step("loan", None, "refuse", "this item is not on loan to this patron")])
    decision = decide_renewal(ctx.policy, ctx.calendar, renewal_facts(ctx, ref, row, loan), ctx.today, explain=True)
    decision.steps.insert(0, Step("loan", loan.rule_id.split(":", 1)[-1], "apply",
                                  f"terms fixed at checkout under policy version {loan.policy_version}"))
    return decision


def _copies(ctx: Ctx, bib_id: int) -> list[dict[str, Any]]:
    return availability(ctx, [bib_id])[bib_id]
