"""The seam between the server and the message handlers.

The server hands every parsed request to a :class:`Dispatcher`.  The usual
dispatcher is a :class:`HandlerRegistry`: one async handler per request id,
each living in its own module under ``sip2_server/handlers/``::

    registry = HandlerRegistry()

    @registry.handles("99")
    async def sc_status(session: Session, request: Message) -> Message:
        ...

A handler returns the reply message, or None to send nothing.  Requests 97
(resend) never reach a dispatcher: the server answers them itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from .fields import MESSAGES
from .message import Message
from .session import Session

Handler = Callable[[Session, Message], Awaitable[Message | None]]


class Dispatcher(Protocol):
    async def handle(self, session: Session, message: Message) -> Message | None: ...


class NoHandler(LookupError):
    """A well-formed request that this server does not answer."""


class ServiceUnavailable(RuntimeError):
    """The request could not be served now (the database is down or locked); ``reply`` tells the terminal so.

    The server sends ``reply`` (the request's response saying no, with a
    screen message) instead of a 96, and counts the request as unavailable.
    """

    def __init__(self, reply: Message, cause: str) -> None:
        super().__init__(cause)
        self.reply = reply


class HandlerRegistry:
    """A Dispatcher that routes each request id to the handler registered for it."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, request_id: str, handler: Handler) -> None:
        spec = MESSAGES.get(request_id)
        if spec is None or spec.response_id is None:
            raise ValueError(f"{request_id!r} is not a SIP2 request message id")
        if request_id in self._handlers:
            raise ValueError(f"a handler for {request_id} ({spec.name}) is already registered")
        self._handlers[request_id] = handler

    def handles(self, request_id: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""

        def decorate(handler: Handler) -> Handler:
            self.register(request_id, handler)
            return handler

        return decorate

    def supported(self) -> frozenset[str]:
        """Request ids with a handler: what the 98 reply's BX field should announce."""
        return frozenset(self._handlers)

    async def handle(self, session: Session, message: Message) -> Message | None:
        handler = self._handlers.get(message.id)
        if handler is None:
            raise NoHandler(f"no handler for {message.id} ({message.name})")
        return await handler(session, message)
