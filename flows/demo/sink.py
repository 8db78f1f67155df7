"""The demo's alert receiver: a file sink behind the real delivery pass.

The demo's routes are generic signed webhooks (`flows.alerts`, HMAC-SHA256), and the
`httpx.Client` the delivery pass sends them with has this transport instead of the network:
each request is appended to a JSON Lines file — its URL, its caseflow headers (signature,
idempotency key) and its JSON body — and answered ``200``. Everything up to the wire is the
production path: outbox claims, messages, signatures, results recorded as ``sent``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

SINK_URL = "http://alerts.caseflow-demo.invalid/hooks/caseflow"  # never resolved: see above
SINK_SECRET = "caseflow-demo"  # the demo's own; no real receiver checks it


class JsonLinesSink(httpx.BaseTransport):
    """An httpx transport that writes every request to ``path`` (one JSON document a line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received = 0
        self._file = path.open("w", encoding="utf-8")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body: Any = json.loads(request.read() or b"null")
        headers = {k: v for k, v in request.headers.items()
                   if k.lower().startswith(("x-caseflow", "idempotency"))}
        line = {"method": request.method, "url": str(request.url), "headers": headers,
                "body": body}
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.received += 1
        return httpx.Response(200, json={"ok": True})

    def close(self) -> None:
        self._file.close()

    def __exit__(self, kind: type[BaseException] | None = None,
                 value: BaseException | None = None,
                 traceback: TracebackType | None = None) -> None:
        self.close()
