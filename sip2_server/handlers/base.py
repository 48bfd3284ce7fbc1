"""What every handler shares: the :class:`Exchange` (one request from a logged-in terminal) and reply builders.

Times: terminals speak local time (blank zone in SIP2 dates), so a naive
date from the wire is read in the library's timezone and replies carry local
time.  Idempotency: :meth:`Exchange.request_key` derives a key from the
terminal and the request's content; the facade replays the first outcome of
a key (scope: the terminal) instead of acting twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from ils_bridge.app import Library
from ils_bridge.outcome import Outcome, Refusal
from ils_bridge.reasons import Reason

from ..backend import Backend
from ..catalog import Catalog, catalog_for
from ..codec import parse_date
from ..errors import FrameError
from ..fields import MESSAGES, Kind
from ..message import Message
from ..session import Session
from ..terminals import Terminal

ZERO_ONE_FLAGS = {("94", "ok"), ("12", "ok"), ("10", "ok"), ("16", "ok"), ("30", "ok"), ("66", "ok"),
                  ("20", "item_properties_ok")}
"""Flags the spec writes as 0/1 rather than Y/N."""

REFUSED_FIXED = {"circulation_status": "01", "security_marker": "00", "fee_type": "01", "magnetic_media": "U",
                 "patron_status": "Y" * 14, "protocol_version": "2.00", "language": "000"}


def flag(response_id: str, name: str, value: bool) -> str:
    """A boolean fixed field in the form this response uses (1/0 or Y/N)."""
    if (response_id, name) in ZERO_ONE_FLAGS:
        return "1" if value else "0"
    return "Y" if value else "N"


def refusal_reply(request: Message, catalog: Catalog, screen: str, print_line: str | None = None, *,
                  institution: str = "", now: dt.datetime | None = None) -> Message:
    """The request's response message saying "no": negative fixed fields, required fields echoed, AF/AG."""
    response_id = request.spec.response_id
    assert response_id is not None
    spec = MESSAGES[response_id]
    fixed: dict[str, object] = {}
    for f in spec.fixed:
        if f.name in REFUSED_FIXED:
            fixed[f.name] = REFUSED_FIXED[f.name]
        elif f.kind is Kind.DATE:
            fixed[f.name] = now if f.name == "transaction_date" or f.name == "date_time_sync" else None
        elif f.kind is Kind.NUMBER:
            fixed[f.name] = 0
        else:
            fixed[f.name] = flag(response_id, f.name, False)
    reply = Message(response_id, fixed)
    for code in spec.required_fields:
        reply.add(code, institution if code == "AO" and institution else request.get(code, ""))
    if any(v.code == "AF" for v in spec.variable):
        reply.add("AF", screen)
        if print_line:
            reply.add("AG", print_line)
    return reply


class PinCheck(Enum):
    VALID = "valid"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"  # the campus system could not be asked: never an accept


@dataclass
class Exchange:
    """One request from a logged-in terminal: what a handler works with."""

    backend: Backend
    session: Session
    terminal: Terminal
    library: Library
    request: Message
    supported: frozenset[str] = frozenset()
    """Request ids this server has handlers for (what 98's BX may announce)."""

    def __post_init__(self) -> None:
        # Every reply carries now; computed here, not in a cached_property (Python 3.11's takes a lock per use).
        self.zone = ZoneInfo(self.library.record.timezone)
        self._now = self.local(self.backend.app.clock.now())

    # -- language --------------------------------------------------------------------
    @cached_property
    def catalog(self) -> Catalog:
        return catalog_for(self.terminal.settings.language or self.library.record.language)

    def screen(self, reply: Message, reason: Reason, **values: Any) -> Message:
        """Add the translated screen message and print line for a refusal reason."""
        values.setdefault("currency", self.currency)
        reply.add("AF", self.catalog.screen(reason, **values))
        reply.add("AG", self.catalog.print_line(reason, **values))
        return reply

    def say(self, reply: Message, key: str, **values: Any) -> Message:
        reply.add("AF", self.catalog.text(key, **values))
        return reply

    def refuse(self, reason: Reason, **values: Any) -> Message:
        values.setdefault("currency", self.currency)
        return refusal_reply(self.request, self.catalog, self.catalog.screen(reason, **values),
                             self.catalog.print_line(reason, **values), institution=self.terminal.institution_id,
                             now=self.now())

    def refuse_outcome(self, outcome: Outcome) -> Message:
        return self.refuse(outcome.reason or Reason.INVALID_REQUEST)

    # -- the request -----------------------------------------------------------------------
    def field(self, code: str) -> str:
        return (self.request.get(code) or "").strip()

    @property
    def patron(self) -> str:
        return self.field("AA")

    @property
    def item(self) -> str:
        return self.field("AB")

    def reply(self, **fixed: object) -> Message:
        """The response to this request with the given fixed fields (transaction date: now)."""
        response_id = self.request.spec.response_id
        assert response_id is not None
        fixed.setdefault("transaction_date", self.now())
        return Message(response_id, dict(fixed))

    def flag(self, name: str, value: bool) -> str:
        return flag(self.request.spec.response_id or "", name, value)

    def request_key(self, *parts: object) -> str | None:
        """An idempotency key for this transaction, or None when the terminal sent no transaction date.

        A resend repeats the transaction date and the sequence number (AY);
        a new transaction differs in one of them (or in its content).  Without
        a date a legitimate repeat (check out, return, check out again) could
        not be told from a resend, so it is not deduplicated.
        """
        date = self.request.fixed.get("transaction_date", "")
        if not date.strip():
            return None
        sequence = "" if self.request.sequence is None else str(self.request.sequence)
        text = "\x1f".join([self.terminal.login, self.request.id, date, sequence, *map(str, parts)])
        return f"sip2:{self.request.id}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:40]}"

    # -- services ------------------------------------------------------------------------
    async def call(self, method: str, *args: Any, **kwargs: Any) -> Outcome:
        """A write on the facade, on behalf of this terminal."""
        return await self.backend.write(getattr(self.library, method), *args, terminal=self.terminal.login, **kwargs)

    async def read(self, method: str, *args: Any) -> tuple[Any, Reason | None]:
        """A read on the facade: (result, None), or (None, reason) when it refused (unknown patron/item)."""
        try:
            return await self.backend.read(getattr(self.library, method), *args), None
        except Refusal as refusal:
            return None, refusal.reason

    async def title(self, title_id: int | None, barcode: str) -> str:
        """The title of a title id, from the cache or one item read."""
        if title_id is None:
            return ""
        cached = self.backend.titles.get(self.library.code, title_id)
        if cached is not None:
            return cached
        info, _ = await self.read("item_circulation", barcode)
        title = info["title"] if info else ""
        self.backend.titles.put(self.library.code, title_id, title)
        return title

    async def check_pin(self, patron: str, pin: str) -> PinCheck:
        """Is ``pin`` the patron's password?  Locally or by the campus system, as configured."""
        key = f"patron:{self.library.code}:{patron}"
        digest = hmac.new(self.session.secrets.get("key", b""), pin.encode("utf-8"), hashlib.sha256).digest()
        remembered = self.session.secrets.get(key)
        if remembered is not None and hmac.compare_digest(remembered, digest):
            return PinCheck.VALID
        verdict = await self._ask_pin(patron, pin)
        if verdict is PinCheck.VALID:
            self.session.secrets[key] = digest
        return verdict

    async def _ask_pin(self, patron: str, pin: str) -> PinCheck:
        mode = self.terminal.settings.patron_auth or self.backend.settings.patron_auth
        if mode == "campus" and self.backend.campus_auth is None:
            return PinCheck.UNAVAILABLE  # misconfigured: say so, never accept
        authenticator = self.backend.authenticator(self.library, mode)
        outcome = await self.backend.run(authenticator.authenticate, patron, pin)
        if outcome.ok:
            return PinCheck.VALID
        return PinCheck.UNAVAILABLE if outcome.reason is Reason.AUTH_UNAVAILABLE else PinCheck.INVALID

    async def pin_given(self) -> PinCheck | None:
        """The verdict on the request's patron password (AD), or None when none was sent."""
        pin = self.request.get("AD") or ""
        if not pin or not self.patron:
            return None
        return await self.check_pin(self.patron, pin)

    async def pin_refusal(self) -> Message | None:
        """For transactions: a refusal when AD was sent and is not right (or cannot be checked)."""
        verdict = await self.pin_given()
        if verdict is PinCheck.INVALID:
            return self.refuse(Reason.BAD_PIN)
        if verdict is PinCheck.UNAVAILABLE:
            return self.refuse(Reason.AUTH_UNAVAILABLE)
        return None

    def forget_patrons(self) -> None:
        for key in [k for k in self.session.secrets if k.startswith("patron:")]:
            del self.session.secrets[key]

    # -- time and money -------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """Now as the terminal reads it: local wall time (naive, blank SIP2 zone); one moment per request."""
        return self._now

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def wire_time(self, name: str) -> dt.datetime | None:
        """A date fixed field of the request as an aware time (local time when the terminal gave no zone)."""
        try:
            return self._aware(parse_date(self.request.fixed.get(name, "")))
        except FrameError:
            return None

    def field_time(self, code: str) -> dt.datetime | None:
        """A date variable field (e.g. 15's BW) as an aware time; raises FrameError when it is not a SIP2 date."""
        return self._aware(parse_date(self.request.get(code) or ""))

    def offline_time(self) -> dt.datetime | None:
        """For a no-block request (an offline transaction replayed): its transaction date, never later than now.

        None when the request is not no-block or carries no date (then it is taken as of now).
        """
        if self.request.fixed.get("no_block") != "Y":
            return None
        moment = self.wire_time("transaction_date")
        return None if moment is None or moment > self.backend.app.clock.now() else moment

    def _aware(self, moment: dt.datetime | None) -> dt.datetime | None:
        if moment is None:
            return None
        return moment.replace(tzinfo=self.zone) if moment.tzinfo is None else moment

    def due_text(self, due: dt.datetime | None) -> str:
        if due is None:
            return ""
        style = self.terminal.settings.due_date_format
        local = self.local(due)
        if style == "sip2":
            return local.strftime("%Y%m%d    %H%M%S")
        if style == "sip2-utc":
            return due.astimezone(dt.UTC).strftime("%Y%m%d   Z%H%M%S")
        if style == "iso":
            return local.date().isoformat()
        return local.strftime(style)

    @property
    def currency(self) -> str:
        return self.library.record.currency.code

    def amount(self, value: Decimal | str | None) -> str:
        return "" if value is None else str(value)
