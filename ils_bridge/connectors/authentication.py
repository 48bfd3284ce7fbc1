"""Patron authentication for adapters: the campus-card system when configured, else the local PIN.

::

    auth = Authenticator.from_config(library, load_connectors_config("ils-bridge.yaml"))
    outcome = auth.authenticate("20230001", password)     # an Outcome, like Library.authenticate

The outcome is the one ``Library.authenticate`` gives, whichever way the
password was checked:

- ``ok``: ``data`` holds ``patron_id``, ``standing`` (a reason code such as
  ``card_expired`` if the patron may not borrow, else ``None``) and ``method``
  (``campus``, ``campus_cache`` or ``local_pin``);
- ``unknown_patron``: no such patron or card here (the campus system is not asked);
- ``bad_pin``: the campus system (or the local PIN) says the password is wrong;
- ``auth_unavailable``: the campus system could not answer and ``fallback`` is
  ``refuse``; ``data["detail"]`` says why (credentials masked).

Settings (``connectors.campus_auth``, besides those of :mod:`.campus_auth`)::

    fallback: refuse      # refuse | local_pin: what to do when the campus system cannot answer

The campus system is asked with the patron's permanent number (the patron
may have identified with a card number).  The call blocks on HTTP for up to
the connector's timeouts: an asyncio server should run it in a thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ils_bridge.app import Library
from ils_bridge.connectors.campus_auth import AuthOutcome, CampusAuthenticator
from ils_bridge.connectors.config import ConnectorConfigError, section
from ils_bridge.connectors.factory import campus_auth_from_config
from ils_bridge.outcome import Outcome, Refusal
from ils_bridge.reasons import Reason

FALLBACKS = ("refuse", "local_pin")
RULE = "auth:campus"


class Authenticator:
    """Checks a patron's password for one library, through the campus system if there is one."""

    def __init__(self, library: Library, campus: CampusAuthenticator | None = None, *, fallback: str = "refuse"):
        if fallback not in FALLBACKS:
            raise ConnectorConfigError(f"connectors.campus_auth.fallback must be one of {', '.join(FALLBACKS)}")
        self.library = library
        self.campus = campus
        self.fallback = fallback

    @classmethod
    def from_config(
        cls, library: Library, config: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> Authenticator:
        """Delegate to ``connectors.campus_auth`` if configured; otherwise check local PINs only."""
        if "campus_auth" not in config:
            return cls(library)
        fallback = str(section(config, "campus_auth").get("fallback", "refuse"))
        return cls(library, campus_auth_from_config(config, environ), fallback=fallback)

    def authenticate(self, patron: str, password: str) -> Outcome:
        """Is ``password`` this patron's (patron number or card number)?  Never raises for a bad login."""
        if self.campus is None:
            return self._local_pin(patron, password)
        try:
            account = self.library.patron_account(patron)
        except Refusal as refusal:
            return refusal.outcome()
        result = self.campus.authenticate(account["number"], password)
        if result.outcome is AuthOutcome.ACCEPTED:
            standing = account["standing"]
            return Outcome(ok=True, rule=RULE, data={
                "patron_id": account["patron_id"], "standing": standing["reason"] if standing else None,
                "method": "campus_cache" if result.cached else "campus",
            })
        if result.outcome is AuthOutcome.REJECTED:
            return Refusal(Reason.BAD_PIN, rule=RULE, patron_id=account["patron_id"]).outcome()
        if self.fallback == "local_pin":
            return self._local_pin(patron, password)
        return Refusal(Reason.AUTH_UNAVAILABLE, rule=RULE, detail=result.detail).outcome()

    def _local_pin(self, patron: str, password: str) -> Outcome:
        outcome = self.library.authenticate(patron, password)
        return dataclasses.replace(outcome, data={**outcome.data, "method": "local_pin"}) if outcome.ok else outcome
