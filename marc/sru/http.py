"""A minimal HTTP/1.1 codec for the SRU server: request head and body in,
response bytes out, keep-alive by the HTTP/1.0 and 1.1 rules."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

MAX_HEAD = 32 * 1024
MAX_BODY = 256 * 1024


class HttpError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    version: str
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request, or None when the client closed between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as eof:
        if not eof.partial.strip():
            return None
        raise HttpError(400, "incomplete request head") from None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(400, "malformed header")
        headers[name.strip().lower()] = value.strip()
    url = urlsplit(target)
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    if method == "POST":
        params.update(await _form_body(reader, headers))
    elif method not in ("GET", "HEAD"):
        raise HttpError(405, f"method {method} not allowed")
    return Request(method, url.path, params, version, headers)


async def _form_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> dict[str, str]:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise HttpError(411, "chunked request bodies are not supported; send Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise HttpError(400, "bad Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise HttpError(413, "request body too large")
    body = await reader.readexactly(length)
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HttpError(415, "POST bodies must be application/x-www-form-urlencoded")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def response(status: int, content_type: str, body: bytes, keep_alive: bool, head_only: bool = False) -> bytes:
    reason = HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + (b"" if head_only else body)
