"""The regional interlibrary-loan gateway: submit a request, ask for its state.

The gateway's own state names are mapped to ``ill_requests.state`` values by
a configurable table (spelling, case, spaces and dash variants are ignored
when matching).  Unknown gateway states are a protocol error, never a guess.
Costs are carried as the gateway reports them; subsidies are decided by
policy elsewhere.

Settings (``connectors.ill_gateway``, besides the endpoint keys)::

    submit_path: /requests            # POST, JSON body below, Idempotency-Key header
    status_path: /requests/{ref}      # GET; {ref} is the gateway's reference
    ref_field: id                     # dotted path of the reference in the submit answer
    state_field: status               # dotted path of the state in the status answer
    lender_field: lender              # optional
    cost_minor_field: cost_minor      # optional: cost in the currency's minor units (integer)
    states:                           # gateway state -> ill_requests.state
      "sent, no answer yet": sent
      "ended – filled": filled
      "ended – not filled": not_filled
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ils_bridge.connectors.checks import CheckResult, check_health
from ils_bridge.connectors.config import ConnectorConfigError, read_str
from ils_bridge.connectors.http import ConnectorProtocolError, HttpClient
from ils_bridge.connectors.json_fields import MISSING, lookup

REQUEST_STATES = ("new", "sent", "filled", "not_filled", "redirected", "delivered", "cancelled")
DEFAULT_STATES = {
    "sent, no answer yet": "sent",
    "ended – filled": "filled",
    "ended – not filled": "not_filled",
}
_DASHES = re.compile(r"[\u2010-\u2015\u2212-]")


def normalise_state(name: str) -> str:
    """Case-, space- and dash-insensitive form of a gateway state name."""
    return " ".join(_DASHES.sub("-", name).casefold().split())


@dataclass(frozen=True)
class IllSubmission:
    """What the gateway needs to route a request; ``details`` is the request's bibliographic data."""

    request_id: int
    library: str
    patron: str
    title: str
    kind: str
    field: str | None = None  # subject field (discipline) of the document
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "details": dict(self.details)}


@dataclass(frozen=True)
class GatewayStatus:
    state: str  # an ill_requests.state value
    gateway_state: str  # the gateway's own wording
    lender: str | None = None
    cost_minor: int | None = None


@dataclass(frozen=True)
class IllGatewaySpec:
    submit_path: str = "/requests"
    status_path: str = "/requests/{ref}"
    ref_field: str = "id"
    state_field: str = "status"
    lender_field: str | None = "lender"
    cost_minor_field: str | None = "cost_minor"
    states: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {normalise_state(k): v for k, v in DEFAULT_STATES.items()}
    )

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> IllGatewaySpec:
        states = {normalise_state(str(k)): str(v) for k, v in (settings.get("states") or DEFAULT_STATES).items()}
        unknown = sorted(set(states.values()) - set(REQUEST_STATES))
        if unknown:
            raise ConnectorConfigError(f"connectors.ill_gateway.states: not request states: {', '.join(unknown)}")
        if "{ref}" not in str(settings.get("status_path", "{ref}")):
            raise ConnectorConfigError("connectors.ill_gateway.status_path must contain {ref}")
        defaults = cls()
        return cls(
            submit_path=read_str(settings, "submit_path", defaults.submit_path),
            status_path=read_str(settings, "status_path", defaults.status_path),
            ref_field=read_str(settings, "ref_field", defaults.ref_field),
            state_field=read_str(settings, "state_field", defaults.state_field),
            lender_field=settings.get("lender_field", defaults.lender_field),
            cost_minor_field=settings.get("cost_minor_field", defaults.cost_minor_field),
            states=states,
        )


class IllGateway:
    def __init__(
        self, client: HttpClient, spec: IllGatewaySpec = IllGatewaySpec(), health_path: str | None = None
    ) -> None:
        self.client = client
        self.spec = spec
        self.health_path = health_path

    def submit(self, submission: IllSubmission) -> str:
        """Send the request; returns the gateway's reference.  Resending the same request id is safe."""
        key = f"ill:{submission.library}:{submission.request_id}"
        answer = self.client.request_json(
            "POST", self.spec.submit_path, json=submission.as_json(), headers={"Idempotency-Key": key}
        )
        ref = lookup(answer, self.spec.ref_field)
        if ref in (MISSING, None, ""):
            raise ConnectorProtocolError(self.client.name, f"submit answer has no {self.spec.ref_field!r}")
        return str(ref)

    def status(self, ref: str) -> GatewayStatus:
        answer = self.client.get_json(self.spec.status_path.replace("{ref}", quote(ref, safe="")))
        raw = lookup(answer, self.spec.state_field)
        if not isinstance(raw, str):
            raise ConnectorProtocolError(self.client.name, f"status answer has no text at {self.spec.state_field!r}")
        state = self.spec.states.get(normalise_state(raw))
        if state is None:
            raise ConnectorProtocolError(self.client.name, f"unknown gateway state {raw!r} for request {ref}")
        return GatewayStatus(state, raw, self._optional_text(answer, self.spec.lender_field), self._cost(answer))

    def _optional_text(self, answer: Any, path: str | None) -> str | None:
        value = lookup(answer, path) if path else None
        return None if value in (MISSING, None) else str(value)

    def _cost(self, answer: Any) -> int | None:
        value = lookup(answer, self.spec.cost_minor_field) if self.spec.cost_minor_field else None
        if value in (MISSING, None):
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConnectorProtocolError(
                self.client.name, f"{self.spec.cost_minor_field!r} must be an integer, not {value!r}"
            )
        return value

    def check(self) -> CheckResult:
        return check_health(self.client, self.health_path)
