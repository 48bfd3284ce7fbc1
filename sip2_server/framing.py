"""Cut a TCP byte stream into SIP2 frames.

A frame ends at CR, LF or CRLF (terminals differ; the empty "frame" between
CR and LF is dropped).  A line longer than ``max_line`` is reported once as
:class:`errors.LineTooLong` and its bytes are discarded up to the next
terminator, so one runaway client never grows the buffer without bound.
"""

from __future__ import annotations

import re

from . import errors

_TERMINATOR = re.compile(rb"[\r\n]")


class LineFramer:
    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | errors.LineTooLong]:
        """Add received bytes; return the complete frames (or over-long errors) in order."""
        self._buffer += data
        out: list[bytes | errors.LineTooLong] = []
        start = 0
        while match := _TERMINATOR.search(self._buffer, start):
            line = bytes(self._buffer[start : match.start()])
            start = match.end()
            if self._discarding:
                self._discarding = False
            elif len(line) > self.max_line:
                out.append(self._too_long(len(line)))
            elif line:
                out.append(line)
        del self._buffer[:start]
        if len(self._buffer) > self.max_line:
            if not self._discarding:
                out.append(self._too_long(len(self._buffer)))
                self._discarding = True
            self._buffer.clear()
        return out

    def _too_long(self, size: int) -> errors.LineTooLong:
        return errors.LineTooLong(f"line of at least {size} bytes exceeds the limit of {self.max_line}")

    @property
    def pending(self) -> int:
        """Bytes held while waiting for a terminator."""
        return len(self._buffer)
