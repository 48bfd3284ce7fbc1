"""One notice channel's HTTP gateway (email, SMS or WeChat), as configured.

Each send is ``POST <path>`` with a JSON body::

    {"channel": "sms", "to": "+84...", "subject": "...", "text": "...",
     "kind": "overdue", "language": "vi", "patron": "20230001"}

and the header ``Idempotency-Key: <library code>:<outbox dedupe key>``.

The gateway MUST honour that header: a second request with a key it has
already accepted must not deliver the message again (answer 2xx as for the
first).  The outbox delivers at least once, so a worker that dies between the
gateway's "accepted" and recording "sent" sends again with the same key; only
the gateway can drop that repeat.

Settings (``connectors.notices.gateways.<channel>``, besides the endpoint keys)::

    path: /send           # default /send
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ils_bridge.connectors.checks import CheckResult, check_health
from ils_bridge.connectors.config import EndpointSettings
from ils_bridge.connectors.http import HttpClient

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class OutgoingMessage:
    channel: str
    to: str
    subject: str
    text: str
    kind: str
    language: str
    patron: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class NoticeGateway:
    def __init__(self, client: HttpClient, path: str = "/send", health_path: str | None = None) -> None:
        self.client = client
        self.path = path
        self.health_path = health_path

    @classmethod
    def from_settings(
        cls, endpoint: EndpointSettings, settings: Mapping[str, Any], **client_options: Any
    ) -> NoticeGateway:
        return cls(endpoint.client(**client_options), str(settings.get("path", "/send")), endpoint.health_path)

    def send(self, message: OutgoingMessage, idempotency_key: str) -> None:
        """Hand one message to the gateway; raises a ``ConnectorError`` if it was not accepted."""
        self.client.request("POST", self.path, json=message.as_json(), headers={IDEMPOTENCY_HEADER: idempotency_key})

    def check(self) -> CheckResult:
        return check_health(self.client, self.health_path)


def gateways_from_config(
    notices_settings: Mapping[str, Any], environ: Mapping[str, str] | None = None, **client_options: Any
) -> dict[str, NoticeGateway]:
    """One gateway per channel configured under ``connectors.notices.gateways``."""
    configured = notices_settings.get("gateways") or {}
    return {
        channel: NoticeGateway.from_settings(
            EndpointSettings.from_mapping(f"notices.{channel}", settings, environ), settings, **client_options
        )
        for channel, settings in configured.items()
    }
