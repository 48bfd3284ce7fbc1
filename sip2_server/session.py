"""Per-connection state: the logged-in terminal and its wire settings.

Only what this one connection needs lives here; anything another process
must see (loans, fees, idempotency keys) belongs to the services.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .codec import Codec
from .message import Message

_session_ids = itertools.count(1)


class ErrorDetection(Enum):
    """Whether replies carry AY/AZ.

    AUTO mirrors each request (the spec's rule: a terminal that sends
    checksums gets them back); ALWAYS and NEVER override for terminals that
    are configured one way but send the other.
    """

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass
class Session:
    peer: str
    codec: Codec = field(default_factory=Codec)
    error_detection: ErrorDetection = ErrorDetection.AUTO
    id: int = field(default_factory=lambda: next(_session_ids))
    terminal: str | None = None
    """Login user id (CN) once a 93 Login succeeded; set by the login handler."""
    institution: str | None = None
    account: Any = None
    """The logged-in terminal account (``sip2_server.terminals.Terminal``), read at login and re-read
    every ``Backend.recheck_seconds`` so a change made elsewhere (disabled, settings) reaches this connection."""
    account_read_at: float = 0.0
    """``time.monotonic()`` when ``account`` was last read from the database."""
    idle_timeout: float | None = None
    """Seconds of silence before closing this connection; None: the server's default."""
    secrets: dict[str, bytes] = field(default_factory=dict)
    """Keyed digests of secrets verified on this connection (terminal password, patron PINs), to check repeats cheaply."""
    last_reply: bytes | None = None
    """The last frame we sent, resent verbatim on a 97 Request ACS Resend."""
    last_sequence: int | None = None
    peer_uses_checksums: bool = False
    opened_at: float = field(default_factory=time.monotonic)
    requests: int = 0

    def note_request(self, message: Message) -> None:
        self.requests += 1
        self.last_sequence = message.sequence
        self.peer_uses_checksums = message.checksummed

    def reply_trailer(self, request: Message | None) -> tuple[int | None, bool]:
        """The (sequence number, add checksum?) for our reply to ``request``.

        ``request`` is None when the frame could not be parsed; 96 replies
        then carry a checksum if this terminal used them so far.  A reply
        never carries a sequence number the request did not have.
        """
        sequence = request.sequence if request is not None else None
        if self.error_detection is ErrorDetection.NEVER:
            return None, False
        if self.error_detection is ErrorDetection.ALWAYS:
            return sequence, True
        if request is None:
            return None, self.peer_uses_checksums
        return sequence, request.checksummed or request.sequence is not None
