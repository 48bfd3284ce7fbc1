"""Test support: an example library with terminals, served over TCP by the real SIP2 service.

``LibraryServer`` runs ``sip2_server.app.Sip2Service`` on a background event
loop; ``sip2_client`` gives a PyPI ``sip2`` client logged in to it; ``Raw`` is
our own line client for exact frames (offline replays, resends, encodings).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from Sip2.sip2 import Sip2

from ils_bridge.app import App, Library
from sip2_server import Codec, Message
from sip2_server.app import Sip2Service
from sip2_server.backend import Backend
from sip2_server.catalog import catalog_for
from sip2_server.config import Sip2Settings
from tests.core.helpers import title_with_copies
from tests.sip2.sip2_support import Client, ThreadedServer

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
PASSWORD = "term-secret"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ZH = catalog_for("zh")
VI = catalog_for("vi")
XZ = "XZMU"


def make_library(app: App, code: str) -> Library:
    return app.create_library((EXAMPLES / f"{code}.yaml").read_text(encoding="utf-8"), author="test")


def books(lib: Library, prefix: str, copies: int = 2, **attributes) -> list[str]:
    """Copies of a new title that Xuzhou lends (Chinese books, class R)."""
    return title_with_copies(lib, prefix, "zh_book", copies=copies, classification="R44", **attributes)


def screen(reply: Message) -> list[str]:
    return reply.get_all("AF")


@contextmanager
def serving(app: App, settings: Sip2Settings | None = None, campus_auth: object | None = None) -> Iterator[LibraryServer]:
    backend = Backend(app, settings, campus_auth=campus_auth)
    server = LibraryServer(backend)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        backend.close()


class LibraryServer(ThreadedServer):
    def __init__(self, backend: Backend) -> None:
        super().__init__(Sip2Service(backend))
        self.backend = backend

    def add_terminal(self, library: str, login: str, institution: str, kind: str = "selfcheck", **settings: object) -> str:
        self.backend.terminals.add(library, login, PASSWORD, institution_id=institution, kind=kind, settings=settings)
        return login

    def raw(self, login: str | None = None, codec: Codec | None = None) -> Raw:
        client = Raw(socket.create_connection(("127.0.0.1", self.port), timeout=20), codec)
        if login is not None:
            assert client.login(login).fixed["ok"] == "1"
        return client

    def sip2_client(self, login: str, institution: str, patron: str = "", pin: str = "") -> Sip2:
        sip = Sip2()
        sip.hostName, sip.hostPort, sip.tlsEnable, sip.socketTimeout = "127.0.0.1", self.port, False, 20
        sip.log = logging.getLogger("sip2-client")
        sip.institutionId, sip.terminalPassword, sip.patron, sip.patronpwd = institution, PASSWORD, patron, pin
        sip.connect()
        answer = sip.sip_login_response(sip.get_response(sip.sip_login_request(login, PASSWORD)))
        assert answer["fixed"]["Ok"] == "1"
        return sip


class Raw(Client):
    """Our line client with builders for the requests tests send as exact frames."""

    def __init__(self, sock: socket.socket, codec: Codec | None = None) -> None:
        super().__init__(sock, codec)

    def login(self, login: str, password: str = PASSWORD) -> Message:
        return self.request(Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"}).add("CN", login).add("CO", password))

    def checkout(self, institution: str, patron: str, item: str, *, date: datetime | None = None,
                 no_block: bool = False, **fields: str) -> Message:
        message = Message("11", {"sc_renewal_policy": "N", "no_block": "Y" if no_block else "N",
                                 "transaction_date": date, "nb_due_date": None})
        message.add("AO", institution).add("AA", patron).add("AB", item).add("AC", fields.pop("AC", ""))
        for code, value in fields.items():
            message.add(code, value)
        return self.request(message)

    def checkin(self, institution: str, item: str, *, date: datetime | None = None, returned: datetime | None = None,
                no_block: bool = False, location: str = "") -> Message:
        message = Message("09", {"no_block": "Y" if no_block else "N", "transaction_date": date, "return_date": returned})
        message.add("AP", location).add("AO", institution).add("AB", item).add("AC", "")
        return self.request(message)

    def hold(self, institution: str, patron: str, item: str, mode: str, **fields: str) -> Message:
        """15 Hold: ``mode`` + (place), - (cancel) or * (change); ``fields`` such as BS (pickup) and BW (expiry)."""
        message = Message("15", {"hold_mode": mode, "transaction_date": None})
        message.add("AO", institution).add("AA", patron).add("AB", item)
        for code, value in fields.items():
            message.add(code, value)
        return self.request(message)

    def item_information(self, institution: str, item: str) -> Message:
        return self.request(Message("17", {"transaction_date": None}).add("AO", institution).add("AB", item))

    def status(self) -> Message:
        return self.request(Message("99", {"status_code": "0", "max_print_width": "080", "protocol_version": "2.00"}))
