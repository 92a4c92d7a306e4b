"""The answers of the embedded Esplora server: a `Reply`, electrs' error answer and their
HTTP/1.1 encoding."""

from __future__ import annotations

import http
import json
import threading
from collections.abc import Callable, Iterator
from typing import Final

import attrs

__all__ = [
    "OVERSIZED_BYTES",
    "HttpError",
    "Reply",
    "cache_control",
    "encode",
    "json_reply",
    "oversized",
    "text_reply",
]

OVERSIZED_BYTES: Final = 32 * 1024 * 1024


@attrs.frozen
class Reply:
    """An answer; with `stream`, its body is `stream(stopping)`'s chunks, sent as they come
    (Server-Sent Events) until they end, the client leaves or the server stops."""

    status: int
    body: bytes
    content_type: str = "text/plain"
    cache_control: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    stream: Callable[[threading.Event], Iterator[bytes]] | None = None


class HttpError(Exception):
    """An error answer: electrs' `HttpError(status, text)`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def cache_control(ttl: int) -> str:
    return f"public, max-age={ttl}"


def text_reply(message: str, ttl: int) -> Reply:
    return Reply(200, message.encode(), "text/plain", cache_control(ttl))


def json_reply(value: object, ttl: int) -> Reply:
    body = json.dumps(value, separators=(",", ":")).encode()
    return Reply(200, body, "application/json", cache_control(ttl))


def encode(reply: Reply, close: bool) -> tuple[bytes, int]:
    """The whole HTTP/1.1 response (a stream's head only), and the length of its head."""
    lines = [
        f"HTTP/1.1 {reply.status} {http.HTTPStatus(reply.status).phrase}",
        f"Content-Type: {reply.content_type}",
    ]
    if reply.stream is None:
        lines.append(f"Content-Length: {len(reply.body)}")
    if reply.cache_control is not None:
        lines.append(f"Cache-Control: {reply.cache_control}")
    lines += [f"{name}: {value}" for name, value in reply.headers]
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + reply.body, len(head)


def oversized(content_type: str) -> bytes:
    """A valid but huge body of the route's type."""
    if content_type == "application/json":
        return b'["' + b"0" * (OVERSIZED_BYTES - 4) + b'"]'
    if content_type == "application/octet-stream":
        return bytes(OVERSIZED_BYTES)
    return b"0" * OVERSIZED_BYTES
