"""Publishing an approval: the local folder, S3 (moto on loopback) and the AutoGPT store (a fake on loopback)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import json
import zipfile

import pytest
from PIL import Image

from imagegen.approval import approve_candidate
from imagegen.cli import main
from imagegen.generation import run_generation, start_generation
from imagegen.publish import CACHE_FOREVER, publications, retry_publishing
from imagegen.recipes import make_spec
from imagegen.records import Candidate, PublishStatus
from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from tests.fake_store_api import FakeStoreAPI, submission

TOKEN = "owner-token-for-tests"


def candidate(ws, slug="pixel-poster", seed=9):
    spec = make_spec(ws, ws.get_agent(slug), provider="local", count=1, seed=seed)
    gen_id = start_generation(ws, slug, spec)
    asyncio.run(run_generation(ws, gen_id))
    return ws.get_generation(gen_id).candidates[0]


def outcome(ws, approval):
    return publications(ws, [approval.id])[approval.id]


# --- the local folder -------------------------------------------------------------------


def test_by_default_an_approval_lands_in_the_published_folder_by_slug_and_by_hash(ws):
    approval = approve_candidate(ws, candidate(ws).id)
    data = ws.media.get(approval.upload_key)
    folder = ws.settings.published_dir
    assert (folder / "pixel-poster.png").read_bytes() == data
    assert [p.read_bytes() for p in (folder / "by-hash").iterdir()] == [data]
    assert outcome(ws, approval).status is PublishStatus.PUBLISHED


def test_a_revert_publishes_the_earlier_upload_as_an_approval_does(ws):
    """Found in a walk-through: a revert made the earlier upload current in the app, but the store
    (here the published folder) kept the later image, with no badge and nothing left to retry."""
    from imagegen.history import revert_to

    first = approve_candidate(ws, candidate(ws, seed=9).id)
    approve_candidate(ws, candidate(ws, seed=10).id)
    back = revert_to(ws, first.id)
    assert (ws.settings.published_dir / "pixel-poster.png").read_bytes() == ws.media.get(first.upload_key)
    assert outcome(ws, back).status is PublishStatus.PUBLISHED


def test_approve_prints_one_json_object_with_the_approval_outcome_and_url(ws, monkeypatch, capsys):
    monkeypatch.setenv("IMAGEGEN_PUBLISH_BASE_URL", "https://img.example.test/thumbs")
    cand = candidate(ws)
    assert main(["approve", str(cand.id), "--by", "dana@example.test"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["by"] == "dana@example.test" and isinstance(out["approval"], int)
    assert out["publishing"]["status"] == "published"
    assert out["url"] == "https://img.example.test/thumbs/pixel-poster.png"
    assert (out["width"], out["height"], out["format"]) == (1280, 720, "PNG")
    assert out["bytes"] == len(ws.media.get(out["thumbnail"]))


def test_export_zip_has_one_image_per_agent_and_both_manifests(ws, tmp_path, capsys):
    first = approve_candidate(ws, candidate(ws, "pixel-poster").id)
    approve_candidate(ws, candidate(ws, "bug-hunter").id)
    out = tmp_path / "set.zip"
    assert main(["export", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"pixel-poster.png", "bug-hunter.png", "manifest.csv", "manifest.json"} <= names
        assert zf.read("pixel-poster.png") == ws.media.get(first.upload_key)
        manifest = {row["slug"]: row for row in json.loads(zf.read("manifest.json"))}
        csv_text = zf.read("manifest.csv").decode()
    row = manifest["pixel-poster"]
    assert row["approval"] == first.id and row["approved_by"] == "curator" and row["recipe"]["seed"] == 9
    assert (row["width"], row["height"], row["format"], row["bytes"]) == (1280, 720, "PNG", len(ws.media.get(first.upload_key)))
    assert "pixel-poster" in csv_text and "approved_by" in csv_text.splitlines()[0]


# --- S3 through moto, a real HTTP endpoint on loopback ------------------------------------


class MotoS3:
    """moto's S3 as a real HTTP server on 127.0.0.1; `stop` kills it, `start` brings it back on a new port."""

    def __init__(self, monkeypatch):
        self.monkeypatch, self.server = monkeypatch, None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    def client(self):
        import boto3

        return boto3.client("s3")  # the standard AWS_* settings, as the app reads them


@pytest.fixture
def s3(monkeypatch):
    from moto.backends import get_backend

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-access-key")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("IMAGEGEN_PUBLISH_URL", "s3://thumbs/approved")
    moto = MotoS3(monkeypatch)
    moto.start()
    moto.client().create_bucket(Bucket="thumbs")
    yield moto
    moto.stop()
    for backend in get_backend("s3").values():  # moto keeps its state per process
        backend.reset()


def test_s3_object_is_content_addressed_with_type_and_long_cache(s3, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_PUBLISH_BASE_URL", "https://cdn.example.test")
    ws = open_workspace(Settings())
    approval = approve_candidate(ws, candidate(ws).id)
    data = ws.media.get(approval.upload_key)
    key = f"approved/pixel-poster/{hashlib.sha256(data).hexdigest()}.png"
    obj = s3.client().get_object(Bucket="thumbs", Key=key)
    assert obj["Body"].read() == data
    assert obj["ContentType"] == "image/png" and obj["CacheControl"] == CACHE_FOREVER
    pub = outcome(ws, approval)
    assert pub.status is PublishStatus.PUBLISHED and pub.url == f"https://cdn.example.test/{key}"
    assert "test-secret-access-key" not in json.dumps([pub.url, pub.error, pub.target])


def test_s3_killed_before_publishing_records_failed_and_retry_publishes_exactly_once(s3, capsys):
    ws = open_workspace(Settings())
    cand = candidate(ws)
    s3.stop()  # the endpoint dies between the approval's record and its upload
    approval = approve_candidate(ws, cand.id)
    pub = outcome(ws, approval)
    assert pub.status is PublishStatus.FAILED and "object store" in pub.error
    assert ws.get_agent("pixel-poster").current_thumbnail == approval.upload_key  # the approval stands
    assert main(["publish"]) == 1
    assert json.loads(capsys.readouterr().out.splitlines()[0])["status"] == "failed"

    s3.start()  # back, on a new port, with the same bucket
    assert main(["publish", "--retry"]) == 0
    assert main(["publish", "--retry"]) == 0  # nothing left to send: no second upload
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket="thumbs").get("Contents", [])]
    assert len(keys) == 1 and keys[0].startswith("approved/pixel-poster/")
    assert outcome(ws, approval).attempts == 2 and outcome(ws, approval).status is PublishStatus.PUBLISHED


# --- the AutoGPT store, a fake on loopback ---------------------------------------------


@pytest.fixture
def store(monkeypatch):
    fake = FakeStoreAPI([
        submission("pixel-poster", "v-pixel"),
        submission("bug-hunter", "v-bug", status="APPROVED"),
        submission("someone-elses", "v-other", owner="other"),
    ])
    monkeypatch.setenv("IMAGEGEN_PUBLISH_URL", "autogpt-store")
    monkeypatch.setenv("IMAGEGEN_STORE_API_URL", fake.base_url)
    monkeypatch.setenv("IMAGEGEN_STORE_API_TOKEN", TOKEN)
    yield fake
    fake.stop()


def test_store_upload_sets_only_the_first_image_of_the_pending_listing(store):
    ws = open_workspace(Settings())
    before = json.loads(json.dumps(store.submissions["v-pixel"]))
    approval = approve_candidate(ws, candidate(ws).id)
    pub = outcome(ws, approval)
    assert pub.status is PublishStatus.PUBLISHED, pub.error
    assert [(t, d) for t, d in store.uploads] == [("image/png", ws.media.get(approval.upload_key))]
    after = store.submissions["v-pixel"]
    assert after["image_urls"] == [pub.url] and pub.url.startswith("https://media.store.test/owner/")
    assert {k: v for k, v in after.items() if k != "image_urls"} == {k: v for k, v in before.items() if k != "image_urls"}
    assert store.refusals == []


def test_store_wrong_token_fails_with_a_clear_line_that_never_shows_the_token(store, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_STORE_API_TOKEN", "a-token-the-store-does-not-know")
    ws = open_workspace(Settings())
    approval = approve_candidate(ws, candidate(ws).id)
    pub = outcome(ws, approval)
    assert pub.status is PublishStatus.FAILED
    assert "refused the token" in pub.error and "IMAGEGEN_STORE_API_TOKEN" in pub.error
    assert "a-token-the-store-does-not-know" not in pub.error and not store.uploads


def test_store_approved_listing_needs_a_new_submission_and_keeps_the_approval(store):
    ws = open_workspace(Settings())
    approval = approve_candidate(ws, candidate(ws, "bug-hunter").id)
    pub = outcome(ws, approval)
    assert pub.status is PublishStatus.NEEDS_SUBMISSION and "submit a new version" in pub.error
    assert ws.get_agent("bug-hunter").current_thumbnail == approval.upload_key
    assert not store.uploads and not store.edits
    assert retry_publishing(ws) == []  # not a failure to retry: only a new submission helps


def test_store_oversize_image_is_refused_before_upload_with_what_to_change(store, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_UPLOAD_MAX_WIDTH", "4096")
    ws = open_workspace(Settings())
    cand = candidate(ws)
    # Noise does not compress: a 2400x1800 PNG of it is about 13 MB; the store would answer 413.
    big = Image.frombytes("RGB", (2400, 1800), os.urandom(2400 * 1800 * 3))
    out = io.BytesIO()
    big.save(out, "PNG")
    with ws.session() as s, s.begin():
        s.get(Candidate, cand.id).image_key = ws.media.put(out.getvalue(), "PNG")
    approval = approve_candidate(ws, cand.id)
    pub = outcome(ws, approval)
    assert pub.status is PublishStatus.FAILED and "4 MiB" in pub.error and "IMAGEGEN_UPLOAD_FORMAT=JPEG" in pub.error
    assert not store.uploads


def test_store_500_then_retry_uploads_one_image_and_edits_once(store, capsys):
    ws = open_workspace(Settings())
    store.fail_next["PUT"] = 1  # the upload lands, the listing edit fails
    approval = approve_candidate(ws, candidate(ws).id)
    pub = outcome(ws, approval)
    assert pub.status is PublishStatus.FAILED and "HTTP 500" in pub.error
    assert len(store.uploads) == 1
    assert main(["publish", "--retry"]) == 0
    pub = outcome(ws, approval)
    assert pub.status is PublishStatus.PUBLISHED
    assert len(store.uploads) == 1 and len(store.edits) == 1  # the retry reused the uploaded image
    assert store.submissions["v-pixel"]["image_urls"][0] == pub.url
    printed = capsys.readouterr()
    assert TOKEN not in printed.out + printed.err
    stored = b"".join(p.read_bytes() for p in ws.settings.data_dir.rglob("*") if p.is_file())
    assert TOKEN.encode() not in stored  # not in the database, the media or the published files


def test_fake_store_refuses_what_the_real_one_refuses(store):
    """The fake is only worth its tests if it refuses: other owners, bad magic bytes, other fields changed."""
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=store.base_url, headers=headers) as c:
        assert c.post("/api/store/submissions/media", files={"file": ("x.png", b"GIF89a....", "image/png")}).status_code == 400
        assert c.post("/api/store/submissions/media", files={"file": ("x.png", b"\x89PNG\r\n\x1a\n" + b"0" * (4 * 2**20), "image/png")}).status_code == 413
        theirs = dict(store.submissions["v-other"])
        body = {k: theirs[k] for k in ("name", "sub_heading", "image_urls", "video_url", "agent_output_demo_url", "description",
                                       "instructions", "categories", "changes_summary", "recommended_schedule_cron")}
        assert c.put("/api/store/submissions/v-other", json=body).status_code == 403
        mine = store.submissions["v-pixel"]
        body = {k: mine[k] for k in body}
        assert c.put("/api/store/submissions/v-pixel", json={**body, "name": "renamed"}).status_code == 422
        assert c.put("/api/store/submissions/v-pixel", json={k: v for k, v in body.items() if k != "categories"}).status_code == 422
    assert httpx.get(f"{store.base_url}/api/store/submissions").status_code == 401
