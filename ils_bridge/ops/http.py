"""The operator's HTTP endpoint beside a protocol server: liveness, readiness and metrics.

- ``GET /healthz``: 200 while the process runs (a liveness probe: restart me if this fails)
- ``GET /readyz``: 200 when the database answers, else 503 (a readiness probe: send me no terminals now)
- ``GET /metrics``: :class:`RequestMetrics` in Prometheus text format

It is stdlib ``http.server`` in a daemon thread, so a slow scrape or probe
never holds up the event loop serving terminals.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .health import Check
from .metrics import RequestMetrics

log = logging.getLogger("ils_bridge.ops.http")

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class OpsEndpoint:
    """Serves the three paths on ``host:port`` (port 0: any free port) until :meth:`close`."""

    def __init__(self, metrics: RequestMetrics, ready: Callable[[], Check], *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.metrics = metrics
        self.ready = ready
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="ops-http", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()
        log.info("health and metrics on http://%s:%s/", *self._httpd.server_address[:2])

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._send(200, "application/json", json.dumps({"ok": True}))
                elif path == "/readyz":
                    check = endpoint.ready()
                    self._send(200 if check.ok else 503, "application/json",
                               json.dumps({"ok": check.ok, "detail": check.detail}))
                elif path == "/metrics":
                    self._send(200, PROMETHEUS_CONTENT_TYPE, endpoint.metrics.render())
                else:
                    self._send(404, "application/json", json.dumps({"error": f"no such path: {path}"}))

            def _send(self, status: int, content_type: str, body: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s %s", self.address_string(), format % args)

        return Handler
