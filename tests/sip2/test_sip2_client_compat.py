"""Cross-checks against the PyPI ``sip2`` client, an independent implementation.

What it sends must parse with our codec; what we send must parse in it with
the same values at the same offsets; its checksum must agree with ours.
"""

from __future__ import annotations

import logging
import random

import pytest
from Sip2.sip2 import Gossip, Sip2

from sip2_server import Codec, checksum
from sip2_server.fields import MESSAGES
from sip2_server.testing import random_message


def client(cls=Sip2) -> Sip2:
    sip = cls()
    sip.log = logging.getLogger("sip2-client")
    sip.institutionId = "Main Library"
    sip.terminalPassword = "term-pw"
    sip.scLocation = "Desk 1"
    sip.patron = "20230001"
    sip.patronpwd = "4321"
    return sip


def test_checksums_agree_with_the_client():
    sip = client()
    rng = random.Random(11)
    for _ in range(1000):
        text = "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(1, 120))) + "AZ"
        # The client writes the value without leading zeros; compare numerically.
        assert int(sip._crc_calc(text), 16) == int(checksum(text.encode()), 16)


REQUESTS = [
    ("93", lambda s: s.sip_login_request("kiosk-1", "secret"), {"CN": "kiosk-1", "CO": "secret", "CP": "Desk 1"}),
    ("99", lambda s: s.sip_sc_status_request(1, "040"), {}),
    ("23", lambda s: s.sip_patron_status_request(), {"AA": "20230001", "AD": "4321", "AC": "term-pw"}),
    ("63", lambda s: s.sip_patron_information_request("charged", "1", "10"),
     {"AA": "20230001", "BP": "1", "BQ": "10"}),
    ("11", lambda s: s.sip_checkout_request("X0001"), {"AB": "X0001", "AA": "20230001", "BO": "N", "BI": "N"}),
    ("09", lambda s: s.sip_checkin_request("X0001"), {"AB": "X0001", "AP": "Desk 1"}),
    ("17", lambda s: s.sip_item_information_request("X0002"), {"AB": "X0002"}),
    ("19", lambda s: s.sip_item_status_update_request("X0003", "rfid:1"), {"AB": "X0003", "CH": "rfid:1"}),
    ("25", lambda s: s.sip_patron_enable_request(), {"AA": "20230001"}),
    ("35", lambda s: s.sip_end_patron_session_request(), {"AA": "20230001"}),
    ("37", lambda s: s.sip_fee_paid_request(4, 0, "1.50", "fee-9", "tx-1", "CNY"),
     {"BV": "1.50", "CG": "fee-9", "BK": "tx-1"}),
    ("15", lambda s: s.sip_hold_request("+", 1735689600, 2, "X0004", pickupLocation="Main"),
     {"AB": "X0004", "BY": "2", "BS": "Main"}),
    ("29", lambda s: s.sip_renew_request("X0005"), {"AB": "X0005", "AA": "20230001"}),
    ("65", lambda s: s.sip_renew_all_request(), {"AA": "20230001", "BO": "N"}),
    ("01", lambda s: s.sip_block_patron_request("card left in machine", "Y"), {"AL": "card left in machine"}),
    ("97", lambda s: s.sip_sc_resend_request(), {}),
]


@pytest.mark.parametrize("with_crc", [True, False])
@pytest.mark.parametrize("request_id,build,expected", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_what_the_client_sends_parses(request_id, build, expected, with_crc):
    sip = client()
    sip.withCrc = sip.withSeq = with_crc
    message = Codec().decode(build(sip).encode("utf-8"))
    assert message.id == request_id
    assert message.checksummed == with_crc
    for code, value in expected.items():
        assert message.get(code) == value, code
    assert "AO" in message.fields or request_id in ("93", "99", "97")


def test_client_fixed_fields_land_in_our_fields():
    sip = client()
    message = Codec().decode(sip.sip_fee_paid_request(4, 2, "3.00", currencyType="EUR").encode())
    fee = (message.fixed["fee_type"], message.fixed["payment_type"], message.fixed["currency_type"])
    assert fee == ("04", "02", "EUR")
    message = Codec().decode(sip.sip_sc_status_request(2, "040", 2).encode())
    assert message.fixed == {"status_code": "2", "max_print_width": "040", "protocol_version": "2.00"}
    message = Codec().decode(client(Gossip).sip_patron_information_request("feeItems").encode())
    assert message.fixed["summary"] == "      Y   "


def test_non_ascii_client_request_parses():
    sip = client()
    sip.patron = "Müller-Łukasz"
    message = Codec().decode(sip.sip_patron_status_request().encode("utf-8"))
    assert message.get("AA") == "Müller-Łukasz"


RESPONSES = {
    "94": "sip_login_response",
    "98": "sip_sc_status_response",
    "24": "sip_patron_status_response",
    "26": "sip_patron_enable_response",
    "64": "sip_patron_information_response",
    "12": "sip_checkout_response",
    "10": "sip_checkin_response",
    "18": "sip_item_information_response",
    "20": "sip_item_status_update_response",
    "36": "sip_end_patron_session_response",
    "38": "sip_fee_paid_response",
    "30": "sip_renew_response",
    "66": "sip_renew_all_response",
}


@pytest.mark.parametrize("response_id", sorted(RESPONSES))
def test_what_we_send_parses_in_the_client(response_id):
    rng = random.Random(int(response_id))
    sip = client()
    parse = getattr(sip, RESPONSES[response_id])
    for _ in range(20):
        message = random_message(rng, MESSAGES[response_id])
        frame = Codec().encode(message, sequence=4, checksum=True).decode("utf-8")
        parsed = parse(frame)
        # Same fixed values at the same offsets ...
        assert "".join(parsed["fixed"].values()) == "".join(message.fixed.values())
        # ... so the variable part starts where ours does and every field is found.
        for code, _ in message.fields:
            assert parsed["variable"][code] == message.get_all(code)
        assert parsed["variable"]["AY"] == ["4"]


def test_hold_response_fixed_part_parses_in_the_client():
    # The client reads 16's optional BW expiration date as if it were fixed;
    # we follow the spec (variable field) but put BW first, so its offsets hold.
    message = random_message(random.Random(3), MESSAGES["16"])
    frame = Codec().encode(message, checksum=True).decode()
    parsed = client().sip_hold_response(frame)
    assert parsed["fixed"]["Ok"] == message.fixed["ok"]
    assert parsed["fixed"]["TransactionDate"] == message.fixed["transaction_date"]
