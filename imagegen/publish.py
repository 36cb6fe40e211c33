"""Publishing an approval: where approved images go once the approval is recorded.

`IMAGEGEN_PUBLISH_URL` names one target:

- unset: the `published/` folder in the data folder (`{slug}.{ext}` plus a content-addressed copy);
- `s3://bucket/prefix`: S3-compatible storage through boto3 and the standard `AWS_*` settings,
  objects named `{prefix}/{slug}/{sha256}.{ext}`;
- `autogpt-store`: the AutoGPT store API (`IMAGEGEN_STORE_API_URL`, `IMAGEGEN_STORE_API_TOKEN`):
  upload the media, then set it as the listing's first image.

The approval is recorded first; each target's outcome is a `Publication` row (published with
its URL, failed with the reason, or "needs a new store submission"). Publishing is idempotent:
names are content-addressed and a store upload is remembered before the listing is edited, so
a retry never creates a second object or a second store image.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from imagegen.auth import Actor, local_admin, require
from imagegen.errors import ImagegenError, PublishFailed, redact
from imagegen.images import sniff_format
from imagegen.providers.http import USER_AGENT, vendor_message
from imagegen.records import Agent, Approval, Publication, PublishStatus, utcnow

if TYPE_CHECKING:
    from imagegen.settings import Settings
    from imagegen.workspace import Workspace

CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
STORE_MAX_BYTES = 4 * 1024 * 1024  # the store's own cap on submission media
CACHE_FOREVER = "public, max-age=31536000, immutable"  # safe: the object name is its content hash


@dataclass(frozen=True)
class Item:
    """One approved image on its way out."""

    slug: str
    data: bytes
    format: str  # PNG, JPEG, WEBP
    store_media_url: str | None = None  # an earlier attempt's store upload, reused by a retry

    @property
    def ext(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class Target(Protocol):
    name: str  # recorded on each Publication

    def publish(self, item: Item, remember_media: Callable[[str], None]) -> str | None:
        """Send the image; return its public URL (None when it has none). Raise PublishFailed."""


# --- the local folder -------------------------------------------------------------------


class LocalFolder:
    name = "local"

    def __init__(self, folder: Path, base_url: str | None):
        self.folder, self.base_url = folder, base_url

    def publish(self, item: Item, remember_media) -> str | None:
        try:
            _write_atomic(self.folder / "by-hash" / f"{item.sha256}.{item.ext}", item.data)
            _write_atomic(self.folder / f"{item.slug}.{item.ext}", item.data)
        except OSError as exc:
            raise PublishFailed(f"Could not write to the published folder ({exc.strerror or exc}).") from None
        return f"{self.base_url.rstrip('/')}/{item.slug}.{item.ext}" if self.base_url else None


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers never see half a file: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- S3-compatible storage --------------------------------------------------------------


def build_s3_client():
    """Few, short retries: a dead endpoint becomes a recorded failure quickly, and Retry is the user's."""
    from imagegen.storage.s3 import make_s3_client  # boto3 loads only when S3 is used

    return make_s3_client(attempts=2)


class S3Bucket:
    def __init__(self, url: str, base_url: str | None, client_factory=build_s3_client):
        parts = urlsplit(url)
        if not parts.netloc:
            raise PublishFailed(f"IMAGEGEN_PUBLISH_URL {url!r} names no bucket: write s3://bucket/prefix.")
        self.name, self.bucket, self.prefix = url, parts.netloc, parts.path.strip("/")
        self.base_url, self._client_factory = base_url, client_factory

    def key(self, item: Item) -> str:
        return "/".join(p for p in (self.prefix, item.slug, f"{item.sha256}.{item.ext}") if p)

    def publish(self, item: Item, remember_media) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(item)
        try:
            self._client_factory().put_object(
                Bucket=self.bucket, Key=key, Body=item.data, ContentType=item.content_type, CacheControl=CACHE_FOREVER,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise PublishFailed(f"The object store refused the upload to s3://{self.bucket}/{key} ({code}).") from None
        except BotoCoreError as exc:
            raise PublishFailed(f"Could not reach the object store for s3://{self.bucket} ({type(exc).__name__}).") from None
        return f"{self.base_url.rstrip('/')}/{key}" if self.base_url else f"s3://{self.bucket}/{key}"


# --- the AutoGPT store ------------------------------------------------------------------


def build_store_client(settings: "Settings") -> httpx.Client:
    """The one place a store API client is made: bearer token, explicit timeouts, no redirects."""
    if not settings.store_api_url or not settings.store_api_token:
        raise PublishFailed("Publishing to the store needs IMAGEGEN_STORE_API_URL and IMAGEGEN_STORE_API_TOKEN.")
    return httpx.Client(
        base_url=settings.store_api_url.rstrip("/"),
        headers={"User-Agent": USER_AGENT, "Authorization": f"Bearer {settings.store_api_token.get_secret_value()}"},
        timeout=httpx.Timeout(60.0, connect=10.0),
        follow_redirects=False,
    )


# The store's edit body: every field is sent back exactly as read, except image_urls[0].
EDIT_FIELDS = (
    "name", "sub_heading", "image_urls", "video_url", "agent_output_demo_url", "description",
    "instructions", "categories", "changes_summary", "recommended_schedule_cron",
)


class AutoGPTStore:
    name = "autogpt-store"

    def __init__(self, settings: "Settings"):
        self.settings = settings

    def _fail(self, what: str, response: httpx.Response) -> PublishFailed:
        token = self.settings.store_api_token.get_secret_value() if self.settings.store_api_token else None
        if response.status_code in (401, 403):
            return PublishFailed(f"The store refused the token while trying to {what} (HTTP {response.status_code}): "
                                 "check IMAGEGEN_STORE_API_TOKEN (the listing owner's or an admin's).")
        return PublishFailed(redact(f"The store could not {what} (HTTP {response.status_code}: {vendor_message(response)}).", token))

    def _call(self, client: httpx.Client, what: str, method: str, url: str, **kwargs) -> httpx.Response:
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise PublishFailed(f"Could not reach the store to {what} ({type(exc).__name__}).") from None
        if response.status_code >= 300:
            raise self._fail(what, response)
        return response

    def _submission(self, client: httpx.Client, slug: str) -> dict:
        """The listing version to edit: a PENDING one if there is one, else the newest."""
        found, page, pages = [], 1, 1
        while page <= min(pages, 100):
            body = self._call(client, "list your submissions", "GET", "/api/store/submissions",
                              params={"page": page, "page_size": 50}).json()
            found += [s for s in body.get("submissions", []) if isinstance(s, dict) and s.get("slug") == slug]
            pages = int((body.get("pagination") or {}).get("total_pages") or 1)
            page += 1
        if not found:
            raise PublishFailed(f"The store has no submission for {slug!r} under this token's account.")
        pending = [s for s in found if s.get("status") == "PENDING"]
        if pending:
            return pending[0]
        status = found[0].get("status")
        if status == "APPROVED":
            raise PublishFailed(
                f"The store listing for {slug!r} is APPROVED, and the store only accepts edits to a PENDING version: "
                "submit a new version in the store (an admin then reviews it).", needs_submission=True)
        raise PublishFailed(f"The store listing for {slug!r} is {status}; only a PENDING version can be edited.")

    def publish(self, item: Item, remember_media) -> str | None:
        if item.format not in ("PNG", "JPEG", "WEBP", "GIF") or sniff_format(item.data) != item.format:
            raise PublishFailed("The store takes JPEG, PNG, GIF or WebP images only.")
        if len(item.data) > STORE_MAX_BYTES:
            raise PublishFailed(f"The image is {len(item.data) / 2**20:.1f} MiB, over the store's 4 MiB limit: "
                                "set IMAGEGEN_UPLOAD_FORMAT=JPEG or a smaller IMAGEGEN_UPLOAD_MAX_WIDTH, then Retry.")
        with build_store_client(self.settings) as client:
            submission = self._submission(client, item.slug)
            media_url = item.store_media_url
            if not media_url:
                files = {"file": (f"{item.slug}-{item.sha256[:16]}.{item.ext}", item.data, item.content_type)}
                media_url = self._call(client, "upload the image", "POST", "/api/store/submissions/media", files=files).json()
                if not isinstance(media_url, str) or not media_url.startswith(("https://", "http://")):
                    raise PublishFailed("The store's answer to the upload was not a media URL.")
                remember_media(media_url)  # before the edit: a retry must not upload a second image
            body = {k: submission.get(k) for k in EDIT_FIELDS}
            body["image_urls"] = [media_url, *(submission.get("image_urls") or [])[1:]]
            self._call(client, "set the listing's image", "PUT",
                       f"/api/store/submissions/{submission['store_listing_version_id']}", json=body)
        return media_url


def target_for(settings: "Settings") -> Target:
    url = (settings.publish_url or "").strip()
    if not url:
        return LocalFolder(settings.published_dir, settings.publish_base_url)
    if url.startswith("s3://"):
        return S3Bucket(url, settings.publish_base_url)
    if url == "autogpt-store":
        return AutoGPTStore(settings)
    raise PublishFailed(f"IMAGEGEN_PUBLISH_URL {url!r} is not understood: leave it unset, or use s3://bucket/prefix or autogpt-store.")


def target_name(settings: "Settings") -> str:
    url = (settings.publish_url or "").strip()
    return url or LocalFolder.name


# --- recording outcomes -----------------------------------------------------------------


def publish_approval(ws: "Workspace", approval_id: int, target: Target | None = None) -> Publication:
    """Send one approval to the configured target and record the outcome. Never raises for a
    target's failure: that is recorded, shown and retried. Already published: nothing is sent."""
    name = target_name(ws.settings)
    with ws.session() as s, s.begin():
        approval = s.get(Approval, approval_id)
        pub = s.scalar(select(Publication).where(Publication.approval_id == approval_id, Publication.target == name))
        if pub is None:
            pub = Publication(approval_id=approval_id, target=name)
            s.add(pub)
            s.flush()
        if not pub.status.retryable:
            return pub
        slug = s.get(Agent, approval.agent_id).slug
        key, pub_id, media_url = approval.upload_key, pub.id, pub.store_media_url

    def remember_media(url: str) -> None:
        with ws.session() as s, s.begin():
            s.get(Publication, pub_id).store_media_url = url

    status, url, error = PublishStatus.FAILED, None, None
    try:
        data = ws.media.get(key)
        item = Item(slug=slug, data=data, format=sniff_format(data) or "PNG", store_media_url=media_url)
        url = (target or target_for(ws.settings)).publish(item, remember_media)
        status = PublishStatus.PUBLISHED
    except PublishFailed as exc:
        error = str(exc)
        status = PublishStatus.NEEDS_SUBMISSION if exc.needs_submission else PublishStatus.FAILED
    except (ImagegenError, OSError) as exc:
        error = f"Publishing failed: {exc}"
    with ws.session() as s, s.begin():
        pub = s.get(Publication, pub_id)
        pub.status, pub.url, pub.error = status, url, error
        pub.attempts, pub.updated_at = pub.attempts + 1, utcnow()
        return pub


def publications(ws: "Workspace", approval_ids: list[int]) -> dict[int, Publication]:
    """The newest outcome for each approval (there is one row per approval and target)."""
    with ws.session() as s:
        rows = s.scalars(select(Publication).where(Publication.approval_id.in_(approval_ids)).order_by(Publication.id))
        return {p.approval_id: p for p in rows}


def unpublished(ws: "Workspace") -> list[int]:
    """Approvals whose publishing to the configured target failed or never finished, oldest first."""
    with ws.session() as s:
        rows = s.scalars(select(Publication.approval_id).where(
            Publication.target == target_name(ws.settings),
            Publication.status.in_([PublishStatus.FAILED, PublishStatus.PENDING])).order_by(Publication.approval_id))
        return list(dict.fromkeys(rows))


def retry_publishing(ws: "Workspace", approval_ids: list[int] | None = None, *, actor: Actor | None = None) -> list[Publication]:
    """Send again what failed (admins only); what is already published is left alone."""
    require(actor or local_admin(ws.settings), "publish")
    return [publish_approval(ws, approval_id) for approval_id in (approval_ids or unpublished(ws))]
