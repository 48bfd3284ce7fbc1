"""Render messages and raw frames for logs with secrets masked (PINs, passwords, login ids)."""

from __future__ import annotations

import re

from .fields import FIELD_DELIMITER, SECRET_FIELDS
from .message import Message

MASK = "***"
_SECRET_ANYWHERE = re.compile("(" + "|".join(sorted(SECRET_FIELDS)) + ")[^|\r\n]*")


def describe(message: Message) -> str:
    """The message in wire-like form (``id fixed|AAvalue|...``) with secret field values masked."""
    fixed = "".join(message.fixed.values())
    fields = FIELD_DELIMITER.join(
        f"{code}{MASK if code in SECRET_FIELDS else value}" for code, value in message.fields
    )
    return f"{message.id}{fixed}{fields}"


def describe_raw(frame: bytes, limit: int = 200) -> str:
    """An unparsed frame for a log line: decoded leniently, cut to ``limit`` characters.

    We cannot know where fields start in a broken frame, so anything that
    looks like a secret field identifier is masked up to the next ``|``.
    """
    text = mask_secrets(frame[:limit].decode("latin-1"))
    suffix = "..." if len(frame) > limit else ""
    return text.encode("unicode_escape").decode("ascii") + suffix


def mask_secrets(text: str) -> str:
    """Mask everything that looks like a secret field in free text (raw frames, error details)."""
    return _SECRET_ANYWHERE.sub(lambda m: m.group(1) + MASK, text)
