"""Log set-up for the servers: plain lines for people, or one JSON object per line for log shippers.

A JSON line carries ``time`` (UTC, ISO 8601), ``level``, ``logger``,
``message``, the process id (several server processes write to one
collector), the exception text if any, and any structured details a logger
attached with ``extra=`` (the SIP2 wire log's ``sip2`` dict).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from typing import Any

PLAIN_FORMAT = "%(asctime)s %(name)s %(message)s"
STRUCTURED_EXTRAS = ("sip2", "http")
"""``extra=`` keys whose values are copied into the JSON line as they are."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        for key in STRUCTURED_EXTRAS:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(*, as_json: bool = False, level: int = logging.INFO) -> None:
    """Send every log record to stderr, as JSON lines or plain text (replacing earlier handlers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
