"""99 SC Status -> 98 ACS Status: what this terminal may do here (BX lists only what it may send).

Online status is N for a while after the database last failed a request
(``Backend.online``), so a kiosk switches to its offline mode.
"""

from __future__ import annotations

from ..fields import SUPPORTED_MESSAGES, supported_messages
from ..message import Message
from .base import Exchange

REQUEST_ID = "99"
ANSWERED_BY_SERVER = {"97"}  # request ACS resend: the server itself answers it, on every connection
TIMEOUT_TENTHS = 50  # how long the SC should wait for our reply, in tenths of a second
RETRIES = 3


async def handle(ex: Exchange) -> Message:
    allowed = ex.terminal.allowed_ops & ex.supported
    reply = ex.reply(
        online_status=ex.flag("online_status", ex.backend.online),
        checkin_ok=ex.flag("checkin_ok", "09" in allowed),
        checkout_ok=ex.flag("checkout_ok", "11" in allowed),
        acs_renewal_policy=ex.flag("acs_renewal_policy", "29" in allowed or ex.terminal.settings.renew_via_checkout),
        status_update_ok=ex.flag("status_update_ok", "19" in allowed),
        offline_ok=ex.flag("offline_ok", "11" in allowed or "09" in allowed),
        timeout_period=TIMEOUT_TENTHS,
        retries_allowed=RETRIES,
        date_time_sync=ex.now(),
        protocol_version="2.00",
    )
    reply.add("AO", ex.terminal.institution_id)
    reply.add("AM", ex.library.record.name)
    reply.add("BX", supported_messages((allowed | ANSWERED_BY_SERVER) & set(SUPPORTED_MESSAGES)))
    reply.add("AN", ex.terminal.login)
    return reply
