"""The event loop the servers (SIP2, SRU, Z39.50) run on: uvloop when it is installed, else asyncio's own.

uvloop (an optional dependency) runs the loop, its sockets and its timers in
C: each request costs the server less CPU than on asyncio's selector loop.
The servers behave the same on either; nothing else needs it.

    from ils_bridge.event_loop import run
    run(main())                   # uvloop if installed
    run(main(), fast=False)       # asyncio's own loop
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when uvloop is installed, else None (asyncio's default loop)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: for logs and benchmark output."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], *, fast: bool = True) -> T:
    """``asyncio.run(main)``, on uvloop when ``fast`` and uvloop is installed."""
    factory = fast_loop_factory() if fast else None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
