"""Patrons: registration and approval, blocks and bans, PINs, clearance."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from typing import Any

from sqlalchemy import func, insert, select, update

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.context import Ctx
from ils_bridge.services.ledger import open_charges
from ils_bridge.services.lookup import balance, find_patron, patron_standing_refusal
from ils_bridge.storage import schema as s


def register_patron(ctx: Ctx, number: str, name: str, patron_type: str, *, patron_group: str | None = None,
                    email: str | None = None, phone: str | None = None, language: str | None = None,
                    field: str | None = None, birth_date: dt.date | None = None, external_id: str | None = None,
                    parent: str | None = None) -> dict[str, Any]:
    """Register a patron: active at once, or pending until a librarian approves (as the policy says)."""
    number, name = (number or "").strip(), (name or "").strip()
    if not number or not name:
        raise Refusal(Reason.INVALID_REQUEST, "a patron needs a number and a name")
    _check_vocabulary(ctx, "patron_types", patron_type)
    if patron_group is not None:
        _check_vocabulary(ctx, "patron_groups", patron_group)
    exists = ctx.conn.execute(select(s.patrons.c.id).where(
        s.patrons.c.library_id == ctx.library.id, s.patrons.c.number == number)).first()
    if exists:
        raise Refusal(Reason.DUPLICATE, f"patron {number} already exists")
    parent_id = find_patron(ctx, parent).id if parent else None
    status = "pending" if ctx.policy.registration_approval else "active"
    patron_id = ctx.conn.execute(insert(s.patrons).values(
        library_id=ctx.library.id, number=number, name=name, patron_type=patron_type, patron_group=patron_group,
        status=status, language=language or ctx.library.language, email=email, phone=phone, field=field,
        birth_date=birth_date, external_id=external_id, parent_id=parent_id, created_at=ctx.now, updated_at=ctx.now,
    )).inserted_primary_key[0]
    return {"rule": "registration:approval_required" if status == "pending" else "registration:open",
            "patron_id": patron_id, "status": status}


def _check_vocabulary(ctx: Ctx, name: str, value: str) -> None:
    allowed = ctx.policy.vocabulary.get(name)
    if allowed is not None and value not in allowed:
        raise Refusal(Reason.INVALID_REQUEST, f"{value!r} is not one of this library's {name.replace('_', ' ')}: {', '.join(allowed)}")


def approve_patron(ctx: Ctx, patron: str, *, approver: str) -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    if ref.row.status != "pending":
        raise Refusal(Reason.INVALID_STATE, f"the patron is {ref.row.status}, not pending approval")
    if not (approver or "").strip():
        raise Refusal(Reason.APPROVAL_REQUIRED, "name the approving librarian")
    ctx.conn.execute(update(s.patrons).where(s.patrons.c.id == ref.id).values(
        status="active", approved_at=ctx.now, approved_by=approver, updated_at=ctx.now))
    return {"rule": "registration:approved", "patron_id": ref.id}


def set_block(ctx: Ctx, patron: str, blocked: bool, reason: str | None = None) -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    ctx.conn.execute(update(s.patrons).where(s.patrons.c.id == ref.id).values(
        blocked=blocked, block_reason=reason if blocked else None, updated_at=ctx.now))
    return {"rule": "patrons:block" if blocked else "patrons:unblock", "patron_id": ref.id}


def ban_patron(ctx: Ctx, patron: str, *, months: int | None = None, until: dt.date | None = None, reason: str,
               confiscate_card: bool = False) -> dict[str, Any]:
    """Ban borrowing until a date; the policy's month range bounds what staff may choose."""
    ref = find_patron(ctx, patron, lock=True)
    bounds = ctx.policy.cards.ban_months
    if months is not None:
        if bounds and not bounds[0] <= months <= bounds[1]:
            raise Refusal(Reason.OUT_OF_RANGE, f"a ban lasts {bounds[0]} to {bounds[1]} months here", "cards:ban_months")
        until = _add_months(ctx.today, months)
    if until is None or until < ctx.today:
        raise Refusal(Reason.INVALID_REQUEST, "a ban needs an end date in the future (or a number of months)")
    if not (reason or "").strip():
        raise Refusal(Reason.INVALID_REQUEST, "a ban records its reason")
    ctx.conn.execute(update(s.patrons).where(s.patrons.c.id == ref.id).values(
        banned_until=until, ban_reason=reason, updated_at=ctx.now))
    if confiscate_card and ref.card is not None:
        ctx.conn.execute(update(s.cards).where(s.cards.c.id == ref.card.id).values(status="confiscated", status_changed_at=ctx.now))
    return {"rule": "cards:ban_months", "patron_id": ref.id, "banned_until": until}


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# -- PINs ------------------------------------------------------------------
def hash_secret(secret: str) -> str:
    """A salted scrypt hash; the form stored for patron PINs and terminal passwords."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(secret.encode("utf-8"), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


def set_pin(ctx: Ctx, patron: str, pin: str) -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    if len(pin or "") < 4:
        raise Refusal(Reason.INVALID_REQUEST, "a PIN has at least 4 characters")
    ctx.conn.execute(update(s.patrons).where(s.patrons.c.id == ref.id).values(pin_hash=hash_secret(pin), updated_at=ctx.now))
    return {"rule": "patrons:pin", "patron_id": ref.id}


def authenticate(ctx: Ctx, patron: str, pin: str) -> dict[str, Any]:
    """Check a patron's local PIN (delegation to the campus-card system is a connector's job)."""
    ref = find_patron(ctx, patron)
    if not verify_secret(pin or "", ref.row.pin_hash):
        raise Refusal(Reason.BAD_PIN)
    standing = patron_standing_refusal(ctx, ref)
    return {"rule": "patrons:pin", "patron_id": ref.id, "standing": standing.reason.value if standing else None}


# -- clearance ------------------------------------------------------------------
def clearance(ctx: Ctx, patron: str, *, mark_left: bool = False) -> dict[str, Any]:
    """Everything returned and settled?  Needed to graduate, retire, transfer or leave."""
    ref = find_patron(ctx, patron, lock=mark_left)
    loans = ctx.conn.execute(select(func.count()).select_from(s.loans).where(
        s.loans.c.patron_id == ref.id, s.loans.c.status == "active")).scalar_one()
    owed = sum((c.outstanding for c in open_charges(ctx, ref.id)), start=ctx.money(0))
    details = {"patron_id": ref.id, "loans": loans, "owed": owed, "deposit": balance(ctx, ref.id, "deposit")}
    if loans or owed:
        raise Refusal(Reason.CLEARANCE_FAILED, f"{loans} item(s) out, {owed} {ctx.currency.code} owed", **details)
    if mark_left:
        ctx.conn.execute(update(s.patrons).where(s.patrons.c.id == ref.id).values(status="left", left_at=ctx.now, updated_at=ctx.now))
    return {"rule": "patrons:clearance", **details}

