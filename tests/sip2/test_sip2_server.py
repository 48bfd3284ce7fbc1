"""The asyncio server over real TCP on localhost, with the test echo dispatcher."""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import socket
import ssl
import subprocess
import time

import pytest
from Sip2.sip2 import Sip2

from sip2_server import Codec, HandlerRegistry, Message, Session
from sip2_server.fields import MESSAGES
from sip2_server.testing import damage, random_frame, random_message
from tests.sip2.sip2_support import SC_STATUS, Client, EchoDispatcher, running_server


def is_sc_resend(frame: bytes) -> bool:
    return frame.startswith(b"96")


def test_status_exchange_with_error_detection():
    with running_server() as srv:
        client = srv.connect()
        frame = client.exchange(b"9900302.00AY1AZFCA5\r")
        reply = Codec().decode(frame)
        assert reply.id == "98" and reply.sequence == 1 and reply.checksummed
        assert reply.get("AO") == "test-inst" and len(reply.get("BX")) == 16


def test_reply_mirrors_a_terminal_without_error_detection():
    with running_server() as srv:
        frame = srv.connect().exchange(b"9900302.00\r")
        assert b"AY" not in frame and b"AZ" not in frame and frame.endswith(b"|\r")


def test_lf_and_crlf_input_and_crlf_output():
    with running_server(codec=Codec(terminator="\r\n")) as srv:
        client = srv.connect()
        assert client.exchange(b"9900302.00\n").endswith(b"|\r\n")
        assert client.exchange(b"9900302.00\r\n").startswith(b"98")
        assert client.exchange(b"9900302.00\r\n").startswith(b"98")


def test_several_requests_in_one_packet_get_replies_in_order():
    with running_server() as srv:
        client = srv.connect()
        client.send(b"9900302.00AY1AZFCA5\r1720240101    120000AOi|ABx|AY2AZ" + b"\r")
        first, second = client.read_frame(), client.read_frame()
        assert first.startswith(b"98") and is_sc_resend(second)  # second has a wrong (empty) checksum


def test_every_request_type_is_answered_with_its_response():
    rng = random.Random(4)
    with running_server() as srv:
        client = srv.connect()
        for spec in MESSAGES.values():
            if spec.response_id is None or spec.id == "97":
                continue
            request = random_message(rng, spec)
            reply = client.request(request, sequence=5, checksum=True)
            assert (reply.id, reply.sequence, reply.checksummed) == (spec.response_id, 5, True)


MALFORMED_FRAMES = {
    "bad checksum": b"9900302.00AY1AZFCA6",
    "unknown message id": b"42whatever|",
    "fixed field too short": b"2300120240101",
    "wrong-length fixed field": b"23000120240101    120000AOi|AAp|AC|AD|",
    "invalid encoding": b"2300120240101    120000AOi|AA\xff\xfe|AC|AD|",
    "garbage bytes": bytes(range(128, 256)) + b"\x00\x01\x1b[2J",
    "truncated": b"9",
    "over-long line": b"17" + b"A" * 20000,
}


@pytest.mark.parametrize("frame", MALFORMED_FRAMES.values(), ids=MALFORMED_FRAMES.keys())
def test_malformed_frame_gets_96_and_the_connection_keeps_serving(frame):
    with running_server(codec=Codec(max_line=4096)) as srv:
        client, other = srv.connect(), srv.connect()
        assert other.exchange(b"9900302.00\r").startswith(b"98")
        assert is_sc_resend(client.exchange(frame + b"\r"))
        assert client.exchange(b"9900302.00AY2AZFCA4\r").startswith(b"98")
        assert other.exchange(b"9900302.00\r").startswith(b"98")


def test_96_carries_a_checksum_but_no_sequence_number_for_checksumming_terminals():
    with running_server() as srv:
        client = srv.connect()
        client.exchange(b"9900302.00AY1AZFCA5\r")
        reply = client.exchange(b"9900302.00AY2AZFFFF\r")
        assert reply.startswith(b"96AZ") and Codec().decode(reply).checksummed
        assert Codec().decode(reply).sequence is None


def test_97_resends_the_last_reply_verbatim():
    with running_server() as srv:
        client = srv.connect()
        assert is_sc_resend(client.exchange(b"97\r"))  # nothing sent yet
        first = client.exchange(b"2300120240101    120000AOi|AAp1|AC|AD|AY3AZ" + b"\r")
        assert is_sc_resend(first)  # wrong checksum
        good = client.exchange(Codec().encode(Message("23", {"language": "001", "transaction_date": None})
                                              .add("AO", "i").add("AA", "p1").add("AC", "").add("AD", ""),
                                              sequence=4, checksum=True))
        assert good.startswith(b"24")
        assert client.exchange(b"97AZFEF5\r") == good


def test_handler_failure_and_unhandled_requests_get_96():
    registry = HandlerRegistry()

    @registry.handles("99")
    async def status(session: Session, message: Message) -> Message:
        return Message("94", {"ok": "1"})

    with running_server(registry) as srv:
        client = srv.connect()
        assert client.exchange(b"9900302.00\r") == b"941\r"
        assert is_sc_resend(client.exchange(b"1720240101    120000AOi|ABx|\r"))  # no handler for 17
    with running_server(EchoDispatcher()) as srv:
        client = srv.connect()
        assert is_sc_resend(client.exchange(b"1720240101    120000AOi|ABboom|\r"))
        assert client.exchange(b"1720240101    120000AOi|ABok|\r").startswith(b"18")


def test_idle_connections_are_closed():
    with running_server(idle_timeout=0.2) as srv:
        client = srv.connect()
        client.sock.settimeout(5)
        assert client.closed_by_server()


def test_a_connection_that_keeps_talking_outlives_the_idle_timeout():
    with running_server(idle_timeout=0.3) as srv:
        talking, quiet = srv.connect(), srv.connect()
        quiet.sock.settimeout(5)
        began = time.monotonic()
        while time.monotonic() - began < 1.0:  # three idle timeouts, never 0.3 s of silence
            assert talking.exchange(b"9900302.00\r").startswith(b"98")
            time.sleep(0.1)
        assert quiet.closed_by_server()
        assert talking.exchange(b"9900302.00\r").startswith(b"98")
        talking.sock.settimeout(5)
        assert talking.closed_by_server()


class ShortensIdleTimeout(EchoDispatcher):
    """As a login does with a terminal's own ``idle_timeout`` setting."""

    async def handle(self, session: Session, message: Message) -> Message | None:
        session.idle_timeout = 0.3
        return await super().handle(session, message)


def test_an_idle_timeout_set_by_a_request_applies_from_then_on():
    with running_server(ShortensIdleTimeout(), idle_timeout=600) as srv:
        client = srv.connect()
        client.sock.settimeout(5)
        assert client.exchange(b"9900302.00\r").startswith(b"98")
        assert client.closed_by_server()  # within the socket's 5 s, not the server's 600


def test_graceful_shutdown_finishes_the_transaction_in_flight():
    dispatcher = EchoDispatcher(delay=0.5)
    with running_server(dispatcher) as srv:
        busy, idle = srv.connect(), srv.connect()
        idle.exchange(b"9900302.00\r")
        busy.send(b"1720240101    120000AOi|ABslow|\r")
        deadline = time.monotonic() + 5
        while not any(m.get("AB") == "slow" for m in dispatcher.seen) and time.monotonic() < deadline:
            time.sleep(0.01)
        port = srv.port
        srv.call(srv.server.close())
        assert busy.read_frame().startswith(b"18")  # the in-flight reply still arrives
        assert busy.closed_by_server() and idle.closed_by_server()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2)


def test_secrets_are_masked_in_logs(caplog):
    caplog.set_level(logging.INFO, logger="sip2_server")
    with running_server() as srv:
        client = srv.connect()
        client.exchange(b"9300CNkiosk-login|COhunter2|CPdesk|\r")
        client.exchange(b"2300120240101    120000AOi|AApatron-7|ACtermpass|AD9876|\r")
        client.exchange(b"2300120240101    AD5555|ACtermpass|\r")  # malformed: logged raw
    text = caplog.text
    for secret in ("kiosk-login", "hunter2", "termpass", "9876", "5555"):
        assert secret not in text
    assert "patron-7" in text and "AD***" in text and "CO***" in text
    records = [r for r in caplog.records if hasattr(r, "sip2")]
    assert any(r.sip2.get("error") == "invalid_fixed_field" for r in records)
    assert any(r.sip2.get("message_id") == "24" and r.sip2["direction"] == "out" for r in records)


def test_the_sip2_client_talks_to_the_server():
    with running_server() as srv:
        sip = Sip2()
        sip.hostName, sip.hostPort, sip.tlsEnable = "127.0.0.1", srv.port, False
        sip.logfile_path = "/nonexistent"
        sip.log = logging.getLogger("sip2-client")
        sip.connect()
        try:
            login = sip.sip_login_response(sip.get_response(sip.sip_login_request("kiosk", "pw")))
            assert login["fixed"]["Ok"] == "1"
            status = sip.sip_sc_status_response(sip.get_response(sip.sip_sc_status_request()))
            assert status["fixed"]["OnlineStatus"] == "Y" and status["variable"]["AO"] == ["test-inst"]
            sip.patron = "20230001"
            info = sip.sip_patron_information_response(
                sip.get_response(sip.sip_patron_information_request("charged")))
            assert info["variable"]["AA"] == ["20230001"]
            renew = sip.sip_renew_all_response(sip.get_response(sip.sip_renew_all_request()))
            assert renew["fixed"]["Ok"] == "N" and renew["variable"]["AF"] == ["echo 65 20230001"]
        finally:
            sip.disconnect()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with running_server(ssl=server_ctx) as srv:
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        client = Client(client_ctx.wrap_socket(raw, server_hostname="localhost"))
        assert client.exchange(b"9900302.00AY1AZFCA5\r").startswith(b"98")
        client.close()


def test_live_fuzz_every_frame_gets_exactly_one_reply():
    rng = random.Random(99)
    codec = Codec()
    with running_server() as srv:
        clients = [srv.connect() for _ in range(4)]
        for i in range(2000):
            client = clients[i % len(clients)]
            message, frame = random_frame(rng, codec)
            if rng.random() < 0.5:
                frame = damage(rng, frame) + b"\r"
                expected = None
                if frame == b"\r":
                    continue  # empty lines are skipped, not answered
            else:
                expected = message.spec.response_id
            reply = client.exchange(frame)
            if expected is not None and message.id != "97":
                assert codec.decode(reply).id == expected
            else:
                assert codec.decode(reply).id in {m.id for m in MESSAGES.values()}
        for client in clients:
            assert client.exchange(b"9900302.00\r").startswith(b"98")
        assert srv.server.connection_count == len(clients)


def test_200_concurrent_clients():
    async def one_client(port: int, n: int) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        codec = Codec()
        try:
            for seq in range(5):
                request = Message("23", {"language": "001", "transaction_date": None})
                request.add("AO", "inst").add("AA", f"patron-{n}").add("AC", "").add("AD", "")
                writer.write(codec.encode(request, sequence=seq, checksum=True))
                await writer.drain()
                reply = codec.decode(await reader.readuntil(b"\r"))
                assert (reply.id, reply.sequence, reply.get("AA")) == ("24", seq, f"patron-{n}")
            return 5
        finally:
            writer.close()
            await writer.wait_closed()

    async def all_clients(port: int) -> list[int]:
        return await asyncio.gather(*(one_client(port, n) for n in range(200)))

    with running_server() as srv:
        assert sum(asyncio.run(all_clients(srv.port))) == 1000
        status = srv.connect().request(SC_STATUS)
        assert status.id == "98"


def test_servers_with_reuse_port_share_one_port():
    with running_server(reuse_port=True) as first:
        with running_server(reuse_port=True, port=first.port) as second:
            assert second.port == first.port
            clients = [first.connect() for _ in range(8)]
            assert all(c.exchange(b"9900302.00\r").startswith(b"98") for c in clients)
            assert first.server.connection_count + second.server.connection_count == 8
    with running_server() as alone, socket.socket() as other, pytest.raises(OSError):
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", alone.port))  # the port is not shared unless the server asked for it
