"""Where image bytes live: content-addressed, written atomically, never outside the root."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Protocol

from imagegen.errors import NotFound, StorageError

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}\.(png|jpg|webp)$")
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


class MediaStore(Protocol):
    shared: bool  # seen from other machines (S3): a job there may run far from the pages' thumbnail cache

    def key_for(self, data: bytes, image_format: str) -> str: ...
    def put(self, data: bytes, image_format: str, *, key: str | None = None) -> str: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def location(self, key: str) -> str: ...
    def remove_partial_files(self, live_owners: set[str], min_age: float) -> int: ...


def media_key(data: bytes, image_format: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest}.{EXTENSIONS[image_format]}"


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise NotFound(f"{key!r} is not a media key.")
    return key


class LocalMediaStore:
    """A folder. Keys are `ab/<sha256>.<ext>`, so equal bytes are stored once.

    Temporary files are named `.tmp-<owner>-*.part`, `owner` being the id of the runner that
    writes them, so a sweep can tell a live writer's file from one a dead process left."""

    shared = False

    def __init__(self, root: Path, owner: str = "anon"):
        self.root = Path(root).resolve()
        self.owner = owner
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Could not create the media folder {self.root}: {exc.strerror}.") from None

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def key_for(self, data: bytes, image_format: str) -> str:
        """The key `put` will store these bytes under, known before writing them."""
        return media_key(data, image_format)

    def put(self, data: bytes, image_format: str, *, key: str | None = None) -> str:
        """Store the bytes; `key`: `key_for(data, image_format)` when the caller has it already (hashed once).
        It is trusted: a key of other bytes would store them under the wrong name for good."""
        key = key or media_key(data, image_format)
        path = self._path(key)
        if path.exists():
            return key
        tmp = None
        try:
            # Write beside the target, flush to disk, then rename: a reader sees all or nothing.
            try:
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{self.owner}-", suffix=".part")
            except FileNotFoundError:  # the first image under this prefix
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{self.owner}-", suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"Could not write to the media folder {self.root}: {exc.strerror or exc}.") from None
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"The image {key} is missing from the media folder.") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def location(self, key: str) -> str:
        return str(self._path(key))

    def remove_partial_files(self, live_owners: set[str], min_age: float) -> int:
        """Delete temporary files left by writers that are gone; returns how many.

        A file is removed only when its owner holds no live lease AND it is older than
        `min_age` seconds (a writer without a lease, such as an approval, finishes long before)."""
        removed = 0
        now = time.time()
        for tmp in self.root.glob("*/.tmp-*.part"):
            owner = tmp.name[len(".tmp-"):].split("-", 1)[0]
            try:
                old = now - tmp.stat().st_mtime > min_age
            except FileNotFoundError:
                continue  # its writer just renamed it
            if owner not in live_owners and old:
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed


def open_media_store(url: str, owner: str = "anon") -> MediaStore:
    if url.startswith("s3://"):
        from imagegen.storage.s3 import S3MediaStore  # boto3 loads only when S3 is used

        return S3MediaStore.from_url(url)
    if url.startswith("file://"):
        url = url[len("file://") :]
    return LocalMediaStore(Path(url), owner)
