"""Patron notices: templates per language, a durable outbox, and a delivery worker per channel gateway.

Typical use::

    with engine.begin() as conn:                      # inside the job's own transaction
        enqueue(conn, library_id=1, patron_id=7, kind="overdue", channel="sms",
                dedupe_key=daily_key("overdue", "sms", "loan-42", today),
                payload={"title": ..., "due_date": ..., "days_overdue": 3}, now=now)

    deliver_due(engine, now, gateways=gateways_from_config(settings), templates=TemplateCatalogue())
"""

from ils_bridge.connectors.notices.delivery import DeliveryPolicy, DeliveryReport, deliver_due
from ils_bridge.connectors.notices.gateway import IDEMPOTENCY_HEADER, NoticeGateway, gateways_from_config
from ils_bridge.connectors.notices.kinds import CHANNELS, KINDS, LANGUAGES, VARIABLES
from ils_bridge.connectors.notices.outbox import daily_key, enqueue, list_dead, retry_dead
from ils_bridge.connectors.notices.templates import TemplateCatalogue, TemplateError

__all__ = [
    "CHANNELS",
    "IDEMPOTENCY_HEADER",
    "KINDS",
    "LANGUAGES",
    "VARIABLES",
    "DeliveryPolicy",
    "DeliveryReport",
    "NoticeGateway",
    "TemplateCatalogue",
    "TemplateError",
    "daily_key",
    "deliver_due",
    "enqueue",
    "gateways_from_config",
    "list_dead",
    "retry_dead",
]
