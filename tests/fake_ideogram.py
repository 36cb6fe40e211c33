"""A fake Ideogram on 127.0.0.1: validates what it receives against the spec, answers like the spec.

Faults are queued on `server.faults` and consumed one per API request, e.g.
`{"status": 429, "headers": {"Retry-After": "0"}}`, `{"delay": 2}`, `{"unsafe": [1]}`,
`{"hold": event}` (answer once the test sets the `threading.Event`, at most 30 s),
`{"image": "truncated" | "html" | "expired" | "offlist" | "redirect-offlist" | "huge"}`.
It stops by itself after `max_requests` requests or `lifetime` seconds.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import itertools
import json
import threading
import time

from PIL import Image

from tests.loopback import JsonHandler, LoopbackServer
from tests.spec_check import property_types, require, validate

SPEC = "ideogram-openapi.json"
KEY = "ideo-test-key-0123456789"


def _png(seed: int, scale: int = 1) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (128 * scale, 72 * scale), ((seed * 37) % 256, (seed * 91) % 256, 200)).save(out, "PNG")
    return out.getvalue()


def parse_multipart(content_type: str, body: bytes, schema: str = "GenerateImageRequestV3") -> dict:
    """Form fields by name; JSON parts decoded, files as bytes, numbers typed by the spec."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise ValueError("the body is not multipart/form-data")
    types = property_types(SPEC, schema)
    fields: dict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_content_type() == "application/json":
            fields[name] = json.loads(payload)
            continue
        if part.get_filename():
            fields[name] = payload
            continue
        text = payload.decode()
        kind = types.get(name)
        if kind in (None, "object"):  # not in the spec, or a $ref such as Seed: digits are numbers
            kind = "integer" if text.isdigit() else None
        fields[name] = int(text) if kind == "integer" else float(text) if kind == "number" else text
    return fields


class FakeIdeogram(LoopbackServer):
    def __init__(self, max_requests: int = 500, lifetime: float = 120.0):
        require(SPEC)  # skips the test visibly when ../shared is missing
        super().__init__(_Handler, max_requests, lifetime)
        self.faults: list[dict] = []
        self.requests: list[dict] = []  # what each API call carried, as validated
        self.downloads: list[str] = []
        self.problems: list[str] = []  # spec violations seen; tests assert this stays empty
        self.images: dict[str, bytes] = {}
        self.in_flight_images = self.peak_images = 0
        self.download_delay = 0.0  # seconds each image download takes
        self.download_gate: threading.Event | None = None  # set: downloads wait for it (at most 30 s)
        self.downloads_done = 0  # image downloads answered in full
        self.downloads_done_at_post: list[int] = []  # downloads answered in full when each API call arrived
        self._ids = itertools.count(1)

    def take_fault(self) -> dict:
        return self.faults.pop(0) if self.faults else {}

    def new_image(self, seed: int, kind: str | None, scale: int = 1) -> str:
        image_id = f"img{next(self._ids)}"
        data = _png(seed, scale)
        if kind == "truncated":
            data = data[: len(data) // 2]
        elif kind == "html":
            data = b"<html><body>Access denied</body></html>"
        elif kind == "huge":
            data = _png(seed) + b"\0" * 3_000_000
        self.images[image_id] = data
        if kind == "expired":
            return f"{self.base_url}/ephemeral/{image_id}.png?expired=1"
        if kind == "offlist":
            return f"http://127.0.0.2:{self.server_address[1]}/ephemeral/{image_id}.png"
        if kind == "redirect-offlist":
            return f"{self.base_url}/redirect/{image_id}.png"
        return f"{self.base_url}/ephemeral/{image_id}.png"


class _Handler(JsonHandler):
    server: FakeIdeogram

    def _send(self, status: int, body=None, headers: dict | None = None, content_type="application/json"):
        self.send_body(status, body, content_type, headers)

    def do_GET(self) -> None:
        srv = self.server
        srv.count_request()
        srv.downloads.append(self.path)
        if "Api-Key" in self.headers:
            srv.problems.append("a download carried the Api-Key header")
        image_id = self.path.rsplit("/", 1)[-1].split(".")[0]
        if self.path.startswith("/redirect/"):
            return self._send(302, None, {"Location": f"https://evil.example/{image_id}.png"})
        if "expired=1" in self.path or image_id not in srv.images:
            return self._send(403, {"error": "URL expired"})
        if srv.download_gate is not None:
            srv.download_gate.wait(30)
        time.sleep(srv.download_delay)
        self._send(200, srv.images[image_id], content_type="image/png")
        with srv.lock:
            srv.downloads_done += 1

    def do_POST(self) -> None:
        srv = self.server
        srv.count_request()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Api-Key") != KEY:
            return self._send(401, {"error": "Unauthorized"})
        fault = srv.take_fault()
        if "status" in fault:
            return self._send(fault["status"], fault.get("body", {"error": "fault"}), fault.get("headers"))

        if self.path == "/v1/ideogram-v3/generate":
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("multipart/form-data"):
                srv.problems.append(f"3.0 generate sent as {ctype}, not multipart/form-data")
                return self._send(400, {"error": "expected multipart/form-data"})
            request = parse_multipart(ctype, body)
            schema, response_schema = "GenerateImageRequestV3", "ImageGenerationResponseV3"
        elif self.path == "/v1/ideogram-v3/remix":
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("multipart/form-data"):
                srv.problems.append(f"3.0 remix sent as {ctype}, not multipart/form-data")
                return self._send(400, {"error": "expected multipart/form-data"})
            request = parse_multipart(ctype, body, "RemixImageRequestV3")
            image = request.get("image", b"")
            if not isinstance(image, bytes) or not image[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1", b"RIFF"):
                srv.problems.append("remix image is not an image file")
            # The spec types the file part as a binary string; check the other fields against it.
            problems = validate(SPEC, "RemixImageRequestV3", {**request, "image": "<file>"})
            if problems:
                srv.problems.extend(problems)
                return self._send(400, {"error": "; ".join(problems)})
            srv.requests.append({"path": self.path, **request})
            return self._answer(fault, request, "ImageGenerationResponseV3")
        elif self.path == "/upscale":
            ctype = self.headers.get("Content-Type", "")
            parts = parse_multipart(ctype, body, "UpscaleImageRequest")
            image = parts.pop("image_file", b"")
            if not image.startswith(b"\x89PNG"):
                srv.problems.append("upscale image_file is not the candidate's PNG")
            request = {"image_request": parts["image_request"]}
            schema, response_schema = "UpscaleInitialImageRequest", "GenerateImageResponse"
            problems = validate(SPEC, schema, request["image_request"])
            if problems:
                srv.problems.extend(problems)
                return self._send(400, {"error": "; ".join(problems)})
            srv.requests.append({"path": self.path, **request})
            return self._answer(fault, request["image_request"], response_schema, upscale=True)
        elif self.path == "/generate":
            request = json.loads(body)
            schema, response_schema = "GenerateImageRequest", "GenerateImageResponse"
        else:
            return self._send(404, {"error": "not found"})
        problems = validate(SPEC, schema, request)
        if "prompt" not in (request.get("image_request", request)):
            problems.append("prompt missing")
        if problems:
            srv.problems.extend(problems)
            return self._send(400, {"error": "; ".join(problems)})
        srv.requests.append({"path": self.path, **request})
        return self._answer(fault, request.get("image_request", request), response_schema)

    def _answer(self, fault: dict, fields: dict, response_schema: str, upscale: bool = False) -> None:
        srv = self.server
        count = int(fields.get("num_images", 1)) + fault.get("extra", 0)  # "extra": more results than asked for
        with srv.lock:
            srv.downloads_done_at_post.append(srv.downloads_done)
            srv.in_flight_images += count
            srv.peak_images = max(srv.peak_images, srv.in_flight_images)
        try:
            time.sleep(fault.get("delay", 0))
            if "hold" in fault:
                fault["hold"].wait(30)
        finally:
            with srv.lock:
                srv.in_flight_images -= count
        seed = int(fields.get("seed", 1))
        unsafe = set(fault.get("unsafe", []))
        data = []
        for i in range(count):
            safe = i not in unsafe
            item = {
                "prompt": f"MAGIC: {fields['prompt'][:40]}" if fields.get("magic_prompt", fields.get("magic_prompt_option")) == "ON" else fields["prompt"],
                "resolution": "1280x704" if self.path.startswith("/v1") else "1280x720",
                **({"upscaled_resolution": "2560x1408"} if upscale else {}),
                "is_image_safe": safe,
                "seed": seed + i,
                "url": srv.new_image(seed + i, fault.get("image"), 2 if upscale else 1) if safe else None,
            }
            if self.path.startswith("/v1"):
                item["style_type"] = fields.get("style_type", "GENERAL")
            data.append(item)
        answer = {"created": "2026-11-24T00:00:00+00:00", "data": data}
        srv.problems.extend(f"response: {p}" for p in validate(SPEC, response_schema, answer))
        self._send(200, answer)
