"""Why a frame could not be read.

Every malformed input raises a subclass of :class:`FrameError`; its ``code``
is a stable machine-readable string (logged, counted, asserted in tests) and
its text says what exactly was wrong.
"""

from __future__ import annotations


class FrameError(ValueError):
    """A frame that is not a valid SIP2 message."""

    code = "malformed_frame"


class LineTooLong(FrameError):
    code = "line_too_long"


class InvalidEncoding(FrameError):
    code = "invalid_encoding"


class UnknownMessage(FrameError):
    code = "unknown_message"


class FixedFieldTooShort(FrameError):
    """The frame ends (or the variable part starts) before the fixed fields are complete."""

    code = "fixed_field_too_short"


class InvalidFixedField(FrameError):
    """A fixed field has the right length but impossible content (a date that is no date, ...)."""

    code = "invalid_fixed_field"


class MalformedField(FrameError):
    """A variable-length field without a valid two-character identifier."""

    code = "malformed_field"


class ChecksumMismatch(FrameError):
    code = "bad_checksum"


class BadSequenceNumber(FrameError):
    code = "bad_sequence_number"


class MissingRequiredField(FrameError):
    """Raised only in strict parsing, and when formatting an incomplete reply."""

    code = "missing_required_field"


class ControlCharacter(FrameError):
    """A control character (NUL, ESC, ...) inside a frame: line noise or a binary client."""

    code = "control_character"
