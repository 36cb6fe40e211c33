"""A fake agent store on 127.0.0.1: `GET /api/store/agents?page=N&page_size=M`, with pages that fail."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeStore(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, agents: list[dict], failing_pages=(), max_requests: int = 200, lifetime: float = 60.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.agents, self.failing_pages, self.requests = agents, set(failing_pages), []
        self._left, self._deadline = max_requests, time.monotonic() + lifetime
        self.timeout = 0.2
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._left > 0 and time.monotonic() < self._deadline:
            self.handle_request()

    def stop(self) -> None:
        self._left = 0
        self._thread.join(timeout=5)
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeStore

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv._left -= 1
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        page, size = int(query.get("page", ["1"])[0]), int(query.get("page_size", ["20"])[0])
        srv.requests.append((url.path, page, size))
        if url.path != "/api/store/agents":
            return self._send(404, {"detail": "Not found"})
        if page in srv.failing_pages:
            return self._send(500, {"detail": "database timeout"})
        total_pages = max(1, -(-len(srv.agents) // size))
        chunk = srv.agents[(page - 1) * size : page * size]
        self._send(200, {"agents": chunk, "pagination": {"total_items": len(srv.agents), "total_pages": total_pages, "current_page": page, "page_size": size}})

    def _send(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
