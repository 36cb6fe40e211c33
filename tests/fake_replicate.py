"""A fake Replicate on 127.0.0.1, reached through REPLICATE_BASE_URL by the real `replicate` client.

It implements the prediction endpoints as ../shared/specs/replicate-openapi.json describes
(`Prefer: wait`, 201 and 202, polling `GET /v1/predictions/{id}`, cancel, problem+json
errors), validates the envelope against the spec and each model's input against that
model's input schema, and answers with spec-shaped predictions.

Faults are queued on `server.faults`, one per create call: `{"status": 401|402|422|429|500}`,
`{"outcome": "failed"|"canceled"|"aborted"|"never"|"slow"}` (a failure may carry `"error": TEXT`), `{"image": "bad-bytes"|"offlist"|"data-uri"}`.
Set `server.delay` to make every create take that long, `server.sync_hold` (an event) to hold
the answer of a waited-on prediction still running until it is set (the prediction exists meanwhile); `peak` is the most creates it answered at once.
It stops by itself after `max_requests` requests or `lifetime` seconds.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import threading
import time

import jsonschema
from PIL import Image

from tests.loopback import JsonHandler, LoopbackServer
from tests.spec_check import load_spec, require, validate

SPEC = "replicate-openapi.json"
TOKEN = "test-replicate-token-not-a-real-one"

RATIOS_PRO = ["custom", "1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3"]
MODEL_INPUTS = {
    "black-forest-labs/flux-1.1-pro": {
        "type": "object", "required": ["prompt"], "additionalProperties": False,
        "properties": {
            "prompt": {"type": "string"}, "seed": {"type": "integer"},
            "aspect_ratio": {"enum": RATIOS_PRO},
            "width": {"type": "integer", "minimum": 256, "maximum": 1440, "multipleOf": 32},
            "height": {"type": "integer", "minimum": 256, "maximum": 1440, "multipleOf": 32},
            "output_format": {"enum": ["webp", "jpg", "png"]},
            "output_quality": {"type": "integer", "minimum": 0, "maximum": 100},
            "safety_tolerance": {"type": "integer", "minimum": 1, "maximum": 6},
            "prompt_upsampling": {"type": "boolean"}, "image_prompt": {"type": "string"},
        },
    },
    "black-forest-labs/flux-schnell": {
        "type": "object", "required": ["prompt"], "additionalProperties": False,
        "properties": {
            "prompt": {"type": "string"}, "seed": {"type": "integer"},
            "aspect_ratio": {"enum": ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"]},
            "num_outputs": {"type": "integer", "minimum": 1, "maximum": 4},
            "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 4},
            "megapixels": {"enum": ["1", "0.25"]}, "go_fast": {"type": "boolean"},
            "output_format": {"enum": ["webp", "jpg", "png"]},
            "output_quality": {"type": "integer", "minimum": 0, "maximum": 100},
            "disable_safety_checker": {"type": "boolean"},
        },
    },
    "ideogram-ai/ideogram-v3-turbo": {
        "type": "object", "required": ["prompt"], "additionalProperties": False,
        "properties": {
            "prompt": {"type": "string"}, "seed": {"type": "integer", "maximum": 2147483647},
            "aspect_ratio": {"enum": ["1:3", "3:1", "1:2", "2:1", "9:16", "16:9", "10:16", "16:10", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "1:1"]},
            "resolution": {"type": "string"}, "magic_prompt_option": {"enum": ["Auto", "On", "Off"]},
            "style_type": {"enum": ["None", "Auto", "General", "Realistic", "Design"]},
        },
    },
}
MULTI_OUTPUT = {"black-forest-labs/flux-schnell"}


def _image(fmt: str, seed: int) -> bytes:
    out = io.BytesIO()
    pil_format = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt]
    Image.new("RGB", (96, 72), ((seed * 53) % 256, 90, (seed * 29) % 256)).save(out, pil_format)
    return out.getvalue()


class FakeReplicate(LoopbackServer):
    def __init__(self, max_requests: int = 800, lifetime: float = 120.0, extra_models=()):
        require(SPEC)  # skips the test visibly when ../shared is missing
        super().__init__(_Handler, max_requests, lifetime)
        self.faults: list[dict] = []
        self.creates: list[dict] = []  # {"model", "input", "prefer"}
        self.cancels: list[str] = []
        self.polls = 0
        self.problems: list[str] = []
        self.predictions: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self.delay = 0.0  # seconds each create takes before answering, like a model at work
        # Set: `Prefer: wait` holds the answer of a prediction still running (it exists meanwhile)
        # until the test sets this event, at most 30 s.
        self.sync_hold: threading.Event | None = None
        self.in_flight = self.peak = 0  # creates being answered at once
        self.inputs = {**MODEL_INPUTS, **{m: {"type": "object", "required": ["prompt"]} for m in extra_models}}
        self._ids = itertools.count(1)

    def outputs(self, model: str, body: dict, image: str | None) -> list[str] | str:
        fmt = body.get("output_format", "webp")
        count = body.get("num_outputs", 1) if model in MULTI_OUTPUT else 1
        urls = []
        for i in range(count):
            file_id = f"f{next(self._ids)}"
            data = b"\x89PNG\r\n\x1a\n not really" if image == "bad-bytes" else _image(fmt, body.get("seed", 0) + i)
            if image == "data-uri":
                urls.append(f"data:image/{fmt};base64,{base64.b64encode(data).decode()}")
                continue
            self.files[file_id] = data
            host = "127.0.0.2" if image == "offlist" else "127.0.0.1"
            urls.append(f"http://{host}:{self.server_address[1]}/files/{file_id}.{fmt}")
        return urls if model in MULTI_OUTPUT else urls[0]


class _Handler(JsonHandler):
    server: FakeReplicate

    def _send(self, status: int, body, content_type="application/json") -> None:
        self.send_body(status, body, content_type)

    def _problem(self, status: int, title: str, detail: str, **extra) -> None:
        self._send(status, {"type": f"https://replicate.com/docs/errors/{status}", "title": title, "status": status, "detail": detail, **extra}, "application/problem+json")

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._problem(401, "Unauthenticated", "You did not pass a valid authentication token")
            return False
        return True

    def _prediction(self, pid: str) -> dict:
        srv = self.server
        state = srv.predictions[pid]
        view = {k: v for k, v in state.items() if not k.startswith("_")}
        srv.problems.extend(f"response: {p}" for p in validate(SPEC, "schemas_prediction_response", view))
        return view

    def _advance(self, state: dict) -> None:
        """A prediction moves on each time it is looked at, as a real one would with time."""
        outcome = state["_outcome"]
        if state["status"] in ("succeeded", "failed", "canceled", "aborted") or outcome == "never":
            return
        state["_looks"] += 1
        if outcome == "slow" and state["_looks"] < 3:
            state["status"] = "processing"
            return
        state["status"] = {"failed": "failed", "canceled": "canceled", "aborted": "aborted"}.get(outcome, "succeeded")
        if state["status"] == "succeeded":
            state["output"] = state["_output"]
        elif state["status"] == "failed":
            state["error"] = state.get("_error") or "CUDA out of memory; the model crashed."
        state["completed_at"] = "2026-11-24T00:00:02Z"

    def do_GET(self) -> None:
        srv = self.server
        srv.count_request()
        if self.path.startswith("/files/"):
            if "Authorization" in self.headers:
                srv.problems.append("a file download carried the API token")
            file_id = self.path.rsplit("/", 1)[-1].split(".")[0]
            data = srv.files.get(file_id)
            return self._send(200, data, "image/webp") if data else self._problem(404, "Not found", "file deleted")
        if not self._authorised():
            return
        match = re.fullmatch(r"/v1/predictions/([\w-]+)", self.path)
        if not match or match.group(1) not in srv.predictions:
            return self._problem(404, "Not found", "Prediction not found")
        with srv.lock:
            srv.polls += 1
            state = srv.predictions[match.group(1)]
            state["_polls"] += 1
            self._advance(state)
            self._send(200, self._prediction(match.group(1)))

    def do_POST(self) -> None:
        srv = self.server
        srv.count_request()
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._authorised():
            return
        cancel = re.fullmatch(r"/v1/predictions/([\w-]+)/cancel", self.path)
        if cancel:
            with srv.lock:
                state = srv.predictions.get(cancel.group(1))
                if state is None:
                    return self._problem(404, "Not found", "Prediction not found")
                srv.cancels.append(cancel.group(1))
                if state["status"] in ("starting", "processing"):
                    state["status"] = "canceled"
                return self._send(200, self._prediction(cancel.group(1)))
        create = re.fullmatch(r"/v1/models/([\w.-]+)/([\w.-]+)/predictions", self.path)
        if not create:
            return self._problem(404, "Not found", f"No route for {self.path}")
        model = f"{create.group(1)}/{create.group(2)}"
        request = json.loads(body or b"{}")
        prefer = self.headers.get("Prefer")
        pattern = load_spec(SPEC)["components"]["parameters"]["parameters_prefer_header"]["schema"]["pattern"] if load_spec(SPEC) else r".*"
        problems = validate(SPEC, "schemas_prediction_request", request)
        if prefer is not None and not re.fullmatch(pattern, prefer):
            problems.append(f"Prefer header {prefer!r} does not match {pattern}")
        if model not in srv.inputs:
            return self._problem(404, "Not found", f"Model {model} not found")
        invalid = [f"input.{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in jsonschema.Draft7Validator(srv.inputs[model]).iter_errors(request.get("input", {}))]
        if problems:
            srv.problems.extend(problems)
            return self._problem(400, "Bad request", "; ".join(problems))
        if invalid:
            srv.problems.extend(invalid)  # our client must never send these
            return self._problem(422, "Input validation failed", "\n".join(f"- {i}" for i in invalid))
        fault = srv.faults.pop(0) if srv.faults else {}
        if "status" in fault:
            titles = {402: ("Insufficient credit", "You have insufficient credit to run this model. Go to https://replicate.com/account/billing to purchase credit."),
                      422: ("Input validation failed", "- input.prompt: prompt is flagged as sensitive"),
                      429: ("Too Many Requests", "Request was throttled."), 500: ("Internal Server Error", "Something went wrong.")}
            title, detail = titles.get(fault["status"], ("Error", "fault"))
            return self._problem(fault["status"], title, detail)
        with srv.lock:
            srv.in_flight += 1
            srv.peak = max(srv.peak, srv.in_flight)
        try:
            time.sleep(srv.delay)
        finally:
            with srv.lock:
                srv.in_flight -= 1
        with srv.lock:
            srv.creates.append({"model": model, "input": request["input"], "prefer": prefer, "at": arrived})
            pid = f"p{next(srv._ids)}x"
            srv.predictions[pid] = state = {
                "id": pid, "model": model, "version": "hidden", "input": request["input"], "output": None,
                "data_removed": False, "error": None, "status": "starting", "created_at": "2026-11-24T00:00:00Z",
                "logs": "", "source": "api",
                "urls": {k: f"{srv.base_url}/v1/predictions/{pid}{s}" for k, s in (("get", ""), ("cancel", "/cancel"), ("web", "/web"))},
                "_outcome": fault.get("outcome", "ok"), "_error": fault.get("error"), "_looks": 0, "_polls": 0, "_output": srv.outputs(model, request["input"], fault.get("image")),
            }
            if prefer:  # sync mode: answer with the finished prediction when it is quick
                self._advance(state)
        if prefer and srv.sync_hold and state["status"] not in ("succeeded", "failed", "canceled", "aborted"):
            srv.sync_hold.wait(30)  # Replicate holds the answer while the prediction runs
        with srv.lock:
            finished = state["status"] in ("succeeded", "failed", "canceled", "aborted")
            self._send(201 if finished else 202, self._prediction(pid))
