"""Where announcements go: stdout as JSON lines, or POSTed to a URL."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections import deque
from typing import Any

__all__ = ["PostSink", "print_event"]

log = logging.getLogger("lwk_paymon")


def print_event(event: dict[str, Any]) -> None:
    """One JSON object per line on stdout, flushed (a pipe's reader sees it at once)."""
    print(json.dumps(event, separators=(",", ":")), flush=True)


class PostSink:
    """POSTs each event as a JSON body to `url`, in order. An event the server did not take
    (no 2xx answer) is kept, with those after it, and sent again before the next one: a
    receiver down for a while gets every event once it is back (while this process lives).
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the POST URL must be http:// or https://")
        self.url = url
        self.timeout = timeout
        self.pending: deque[dict[str, Any]] = deque()

    def __call__(self, event: dict[str, Any]) -> None:
        self.pending.append(event)
        self.flush()

    def flush(self) -> None:
        """Send what is pending, oldest first, until one fails."""
        while self.pending:
            body = json.dumps(self.pending[0], separators=(",", ":")).encode()
            request = urllib.request.Request(
                self.url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
            except (urllib.error.URLError, OSError) as exc:  # HTTPError: a non-2xx answer
                log.warning("POST failed (%s); %d event(s) kept", exc, len(self.pending))
                return
            self.pending.popleft()
