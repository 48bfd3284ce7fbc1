"""SIP2 (3M Standard Interchange Protocol 2.00) adapter: codec, server, handlers.

- ``fields``: field identifiers, message layouts and code tables
- ``codec``: one frame <-> ``Message``; checksums; SIP2 dates
- ``framing``: byte stream -> frames
- ``server``: the asyncio server; ``dispatch``: the handler seam; ``session``: per-connection state
"""

from .codec import Codec, checksum, format_date, parse_date
from .dispatch import Dispatcher, HandlerRegistry, NoHandler
from .errors import FrameError
from .message import FieldList, Message
from .server import ServerConfig, Sip2Server
from .session import ErrorDetection, Session

__all__ = [
    "Codec",
    "Dispatcher",
    "ErrorDetection",
    "FieldList",
    "FrameError",
    "HandlerRegistry",
    "Message",
    "NoHandler",
    "ServerConfig",
    "Session",
    "Sip2Server",
    "checksum",
    "format_date",
    "parse_date",
]
