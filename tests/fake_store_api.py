"""A fake AutoGPT store submissions API on 127.0.0.1, built from what the store documents:

- `GET /api/store/submissions?page=N&page_size=M`: the token owner's submissions, paginated;
- `POST /api/store/submissions/media`: multipart field `file`; JPEG, PNG, GIF or WebP whose magic
  bytes match the declared content type, at most 4 MiB; answers the media URL as a JSON string;
- `PUT /api/store/submissions/{store_listing_version_id}`: the whole edit body; only the owner,
  only a PENDING version.

Every call needs `Authorization: Bearer <token>`. `fail_next` makes the next calls of a method
answer 500. The fake also refuses a PUT that changes anything but `image_urls[0]`, so a client
that drops or rewrites a field fails the test instead of silently corrupting a listing.
"""

from __future__ import annotations

import copy
import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, urlsplit

from tests.loopback import JsonHandler, LoopbackServer

MAX_MEDIA = 4 * 1024 * 1024
MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",), "image/gif": (b"GIF87a", b"GIF89a")}
EDIT_FIELDS = (
    "name", "sub_heading", "image_urls", "video_url", "agent_output_demo_url", "description",
    "instructions", "categories", "changes_summary", "recommended_schedule_cron",
)


def submission(slug: str, version_id: str, *, owner: str = "owner", status: str = "PENDING", images=("https://cdn.store.test/old.png",)) -> dict:
    return {
        "listing_id": f"listing-{slug}", "agent_id": f"agent-{slug}", "agent_version": 3, "slug": slug, "owner": owner,
        "store_listing_version_id": version_id, "status": status, "name": f"Agent {slug}",
        "sub_heading": "Does a thing", "description": "A long **markdown** description.", "instructions": "Run it.",
        "image_urls": list(images), "video_url": None, "agent_output_demo_url": "https://cdn.store.test/demo.mp4",
        "categories": ["productivity"], "changes_summary": "first version", "recommended_schedule_cron": "0 9 * * 1",
    }


class FakeStoreAPI(LoopbackServer):
    def __init__(self, submissions: list[dict], tokens: dict[str, str] | None = None, max_requests: int = 200, lifetime: float = 60.0):
        super().__init__(_Handler, max_requests, lifetime)
        self.submissions = {s["store_listing_version_id"]: s for s in submissions}
        self.tokens = tokens or {"owner-token-for-tests": "owner", "someone-else-token": "other"}
        self.uploads: list[tuple[str, bytes]] = []  # (content type, bytes) of every accepted upload
        self.edits: list[dict] = []
        self.refusals: list[tuple[int, str]] = []
        self.fail_next: dict[str, int] = {}
        self.start()


class _Handler(JsonHandler):
    server: FakeStoreAPI

    def _user(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return self.server.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    def _refuse(self, status: int, detail: str) -> None:
        self.server.refusals.append((status, detail))
        self.send_body(status, {"detail": detail})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _begin(self, method: str) -> str | None:
        srv = self.server
        srv.count_request()
        with srv.lock:
            if srv.fail_next.get(method):
                srv.fail_next[method] -= 1
                self._body()
                self.send_body(500, {"detail": "Internal Server Error"})
                return None
        user = self._user()
        if user is None:
            self._body()
            self._refuse(401, "Invalid or missing bearer token")
        return user

    def do_GET(self) -> None:
        user = self._begin("GET")
        if user is None:
            return
        url = urlsplit(self.path)
        if url.path != "/api/store/submissions":
            return self._refuse(404, "Not found")
        query = parse_qs(url.query)
        page, size = int(query.get("page", ["1"])[0]), int(query.get("page_size", ["20"])[0])
        mine = [s for s in self.server.submissions.values() if s["owner"] == user]
        chunk = mine[(page - 1) * size : page * size]
        self.send_body(200, {"submissions": chunk, "pagination": {"total_items": len(mine), "total_pages": max(1, -(-len(mine) // size)),
                                                                  "current_page": page, "page_size": size}})

    def do_POST(self) -> None:
        user = self._begin("POST")
        if user is None:
            return
        if self.path != "/api/store/submissions/media":
            return self._refuse(404, "Not found")
        body = self._body()
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode() + body)
        parts = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file"] if message.is_multipart() else []
        if not parts:
            return self._refuse(422, "Missing multipart field 'file'")
        part = parts[0]
        data, content_type = part.get_payload(decode=True), part.get_content_type()
        if len(data) > MAX_MEDIA:
            return self._refuse(413, "File too large (4 MiB at most)")
        is_webp = content_type == "image/webp" and data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        if not is_webp and not any(data.startswith(m) for m in MAGIC.get(content_type, ())):
            return self._refuse(400, f"File content does not match the declared type {content_type}")
        with self.server.lock:
            self.server.uploads.append((content_type, data))
            n = len(self.server.uploads)
        self.send_body(200, f"https://media.store.test/{user}/{n}.{content_type.split('/')[1]}")

    def do_PUT(self) -> None:
        user = self._begin("PUT")
        if user is None:
            return
        match = re.fullmatch(r"/api/store/submissions/([\w-]+)", urlsplit(self.path).path)
        current = self.server.submissions.get(match.group(1)) if match else None
        edit = json.loads(self._body() or b"{}")
        if current is None:
            return self._refuse(404, "Submission not found")
        if current["owner"] != user:
            return self._refuse(403, "You can only edit your own submissions")
        if current["status"] != "PENDING":
            return self._refuse(400, "Only PENDING submissions can be edited")
        if set(edit) != set(EDIT_FIELDS) or not edit["image_urls"]:
            return self._refuse(422, "The edit body must carry every field")
        for name in EDIT_FIELDS:
            before, after = current[name], edit[name]
            if name == "image_urls":
                before, after = before[1:], after[1:]
            if before != after:
                return self._refuse(422, f"{name} changed")
        with self.server.lock:
            current["image_urls"] = list(edit["image_urls"])
            self.server.edits.append(copy.deepcopy(edit))
        self.send_body(200, current)
