"""The pieces around the codec: layout tables, positional flag fields, handler registry, session rules, log masking."""

from __future__ import annotations

import asyncio

import pytest

from sip2_server import (
    Codec,
    ErrorDetection,
    HandlerRegistry,
    Message,
    NoHandler,
    Session,
)
from sip2_server.fields import (
    FIELDS,
    MESSAGES,
    SUPPORTED_MESSAGES,
    F,
    Kind,
    field_name,
    patron_status,
    summary_requests,
    supported_messages,
)
from sip2_server.redact import describe, describe_raw


def test_every_request_has_a_defined_response_and_fields_are_known():
    for spec in MESSAGES.values():
        if spec.response_id:
            assert spec.response_id in MESSAGES
        for var in spec.variable:
            assert var.code in FIELDS, (spec.id, var.code)
    requests = {s.id for s in MESSAGES.values() if s.response_id}
    # BX announces exactly the requests we know (97's answer is whatever was sent last)
    assert requests | {"97"} == set(SUPPORTED_MESSAGES)
    assert MESSAGES["01"].response_id == "24"


def test_fixed_lengths_of_the_larger_layouts():
    lengths = {spec.id: {f.name: f.length for f in spec.fixed} for spec in MESSAGES.values()}
    assert lengths["63"]["summary"] == 10
    assert lengths["64"]["patron_status"] == lengths["24"]["patron_status"] == lengths["26"]["patron_status"] == 14
    dates = [f for spec in MESSAGES.values() for f in spec.fixed if f.kind is Kind.DATE]
    assert len(dates) > 20 and all(f.length == 18 for f in dates)
    assert [f.length for f in MESSAGES["98"].fixed] == [1, 1, 1, 1, 1, 1, 3, 3, 18, 4]


def test_field_names():
    assert (F.PATRON_IDENTIFIER, F.PATRON_PASSWORD, F.SCREEN_MESSAGE, F.SORT_BIN) == ("AA", "AD", "AF", "CL")
    assert field_name("CL") == "sort bin" and field_name("XK") == "unknown field XK"


def test_positional_flag_fields():
    assert patron_status() == " " * 14
    assert patron_status("card reported lost", "too many items billed") == "    Y        Y"
    assert supported_messages({"99", "93", "65"}) == "NNNNYNYNNNNNNNNY"
    assert summary_requests("  Y       ") == ("AU",)
    with pytest.raises(ValueError):
        patron_status("no such flag")


def test_registry_routes_by_request_id():
    registry = HandlerRegistry()

    @registry.handles("17")
    async def item_info(session: Session, message: Message) -> Message:
        return Message("18").add("AB", message.get("AB"))

    session = Session(peer="test")
    reply = asyncio.run(registry.handle(session, Message("17").add("AB", "X1")))
    assert reply.get("AB") == "X1" and registry.supported() == {"17"}
    with pytest.raises(NoHandler):
        asyncio.run(registry.handle(session, Message("11")))
    with pytest.raises(ValueError, match="already"):
        registry.register("17", item_info)
    with pytest.raises(ValueError, match="not a SIP2 request"):
        registry.register("18", item_info)


@pytest.mark.parametrize("mode,sequence,checksummed,expected", [
    (ErrorDetection.AUTO, 4, True, (4, True)),
    (ErrorDetection.AUTO, None, False, (None, False)),
    (ErrorDetection.AUTO, 2, False, (2, True)),
    (ErrorDetection.ALWAYS, None, False, (None, True)),
    (ErrorDetection.NEVER, 4, True, (None, False)),
])
def test_reply_trailer(mode, sequence, checksummed, expected):
    request = Message("99", sequence=sequence, checksummed=checksummed)
    assert Session(peer="t", error_detection=mode).reply_trailer(request) == expected


def test_96_for_an_unreadable_frame_follows_what_the_terminal_did_before():
    session = Session(peer="t")
    assert session.reply_trailer(None) == (None, False)
    session.note_request(Codec().decode(b"9900302.00AY1AZFCA5"))
    assert session.reply_trailer(None) == (None, True)


def test_log_rendering_masks_secrets():
    message = Codec().decode(b"9300CNuser|COpass|CPdesk|")
    assert describe(message) == "9300CN***|CO***|CPdesk"
    assert describe_raw(b"23garbageAD1234|AC99|AAok\xff") == "23garbageAD***|AC***|AAok\\xff"
    assert describe_raw(b"x" * 300).endswith("...")
