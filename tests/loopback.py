"""The common part of every fake server: 127.0.0.1 only, a bounded serve loop, a clean stop."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer(ThreadingHTTPServer):
    """Serves on a free port of 127.0.0.1 in a daemon thread, and stops by itself after
    `max_requests` requests or `lifetime` seconds, whichever comes first."""

    daemon_threads = True
    request_queue_size = 64  # the default listen backlog (5) drops a burst of 8 downloads: 1 s SYN retry
    timeout = 0.2  # how often the loop checks its limits

    def __init__(self, handler: type[BaseHTTPRequestHandler], max_requests: int, lifetime: float):
        super().__init__(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.lock = threading.Lock()
        self._left = max_requests
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while self._left > 0 and time.monotonic() < self._deadline:
            self.handle_request()

    def count_request(self) -> None:
        self._left -= 1

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._left = 0
        self._thread.join(timeout=5)
        self.server_close()


class JsonHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def send_body(self, status: int, body, content_type: str = "application/json", headers: dict | None = None) -> None:
        import json

        payload = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
