"""200 terminals at once on the same patrons and items: no limit broken, nothing lent twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from ils_bridge.app import App
from sip2_server import Codec, Message
from tests.core.helpers import patron_with_card, title_with_copies
from tests.sip2.sip2_world import PASSWORD, serving

CONNECTIONS = 200
ACCOUNTS = 4  # terminal accounts shared by the connections (a scrypt check per account, not per connection)
ATTEMPTS = 1
XZ = "XZMU"


async def terminal(port: int, login: str, plan: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One terminal: log in, try its checkouts; return the (patron, item) pairs the server accepted."""
    codec = Codec()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def ask(message: Message) -> Message:
        writer.write(codec.encode(message))
        await writer.drain()
        return codec.decode(await reader.readuntil(b"\r"))

    try:
        login_reply = await ask(Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"}).add("CN", login).add("CO", PASSWORD))
        assert login_reply.fixed["ok"] == "1"
        accepted = []
        for patron, item in plan:
            request = Message("11", {"sc_renewal_policy": "N", "no_block": "N", "transaction_date": None, "nb_due_date": None})
            reply = await ask(request.add("AO", XZ).add("AA", patron).add("AB", item).add("AC", ""))
            assert reply.id == "12" and reply.get("AB") == item
            if reply.fixed["ok"] == "1":
                accepted.append((patron, item))
        return accepted
    finally:
        writer.close()
        await writer.wait_closed()


def test_200_terminals_never_break_a_limit_or_lend_twice(app: App, make_library):
    lib = make_library("xuzhou")
    patrons = [patron_with_card(lib, f"E{n}", "external") for n in range(2)]  # 4 items in all, 2 per science
    social = title_with_copies(lib, "SS", "zh_book", copies=6, classification="D61")
    natural = title_with_copies(lib, "NS", "zh_book", copies=6, classification="R44")
    items = social + natural
    rng = random.Random(200)
    plans = [[(rng.choice(patrons), rng.choice(items)) for _ in range(ATTEMPTS)] for _ in range(CONNECTIONS)]

    with serving(app) as srv:
        logins = [srv.add_terminal("xuzhou", f"kiosk-{n}", XZ) for n in range(ACCOUNTS)]

        async def everyone() -> list[list[tuple[str, str]]]:
            return await asyncio.gather(*(terminal(srv.port, logins[n % ACCOUNTS], plan) for n, plan in enumerate(plans)))

        accepted = [pair for pairs in asyncio.run(everyone()) for pair in pairs]

    lent = Counter(item for _, item in accepted)
    assert lent and max(lent.values()) == 1, "an item was lent twice"
    loans = {patron: [loan["item"] for loan in lib.patron_account(patron)["loans"]] for patron in patrons}
    assert sorted(accepted) == sorted((p, item) for p, held in loans.items() for item in held)
    for held in loans.values():
        assert len(held) <= 4
        assert sum(item in social for item in held) <= 2 and sum(item in natural for item in held) <= 2
    for item in items:
        info = lib.item_info(item)
        assert (info["borrower"] is not None) == (item in lent)
    assert sum(len(held) for held in loans.values()) == 8  # 200 terminals ask for more than enough: every slot fills
