"""A fake agent store on 127.0.0.1: `GET /api/store/agents?page=N&page_size=M`, with pages that fail."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.loopback import JsonHandler, LoopbackServer


class FakeStore(LoopbackServer):
    def __init__(self, agents: list[dict], failing_pages=(), max_requests: int = 200, lifetime: float = 60.0):
        super().__init__(_Handler, max_requests, lifetime)
        self.agents, self.failing_pages, self.requests = agents, set(failing_pages), []
        self.start()


class _Handler(JsonHandler):
    server: FakeStore

    def do_GET(self) -> None:
        srv = self.server
        srv.count_request()
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        page, size = int(query.get("page", ["1"])[0]), int(query.get("page_size", ["20"])[0])
        srv.requests.append((url.path, page, size))
        if url.path != "/api/store/agents":
            return self.send_body(404, {"detail": "Not found"})
        if page in srv.failing_pages:
            return self.send_body(500, {"detail": "database timeout"})
        total_pages = max(1, -(-len(srv.agents) // size))
        chunk = srv.agents[(page - 1) * size : page * size]
        self.send_body(200, {"agents": chunk, "pagination": {"total_items": len(srv.agents), "total_pages": total_pages, "current_page": page, "page_size": size}})
