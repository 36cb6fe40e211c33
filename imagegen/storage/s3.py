"""Media on S3 (or any S3-compatible service), so web servers and workers on several machines
see the same candidates.

Configuration is boto3's own: the standard AWS_* settings (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, profiles...).
Keys stay content-addressed (`<prefix>/ab/<sha256>.<ext>`) and every write is one PUT of the
complete object, so a half-written image can never be read. Thumbnails are not stored
here: each host keeps its own cache in its data folder.
"""

from __future__ import annotations

from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from imagegen.errors import ConfigError, NotFound, StorageError
from imagegen.storage.media import check_key, media_key

CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
_MISSING = {"404", "NoSuchKey", "NotFound"}


def make_s3_client(*, connect_timeout: float = 5, read_timeout: float = 30, attempts: int = 4):
    """The one place an S3 client is built: explicit timeouts and bounded retries, credentials
    and endpoint from the standard AWS settings."""
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": attempts, "mode": "standard"},
    )
    return boto3.session.Session().client("s3", config=config)


def _reason(exc: Exception) -> str:
    """What went wrong, from the error code only: boto's messages can carry signed URLs."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "error")
    return type(exc).__name__


class S3MediaStore:
    shared = True

    def __init__(self, bucket: str, prefix: str = "", client=None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or make_s3_client()

    @classmethod
    def from_url(cls, url: str) -> "S3MediaStore":
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError(f"IMAGEGEN_MEDIA_URL={url!r} is not an S3 location: write it as s3://bucket/prefix.")
        return cls(parsed.netloc, parsed.path)

    def _object(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def key_for(self, data: bytes, image_format: str) -> str:
        return media_key(data, image_format)

    def put(self, data: bytes, image_format: str, *, key: str | None = None) -> str:
        key = key or media_key(data, image_format)  # `key`: as LocalMediaStore.put
        if self.exists(key):
            return key  # content-addressed: the same bytes are already there
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._object(key), Body=data, ContentType=CONTENT_TYPES[key.rsplit(".", 1)[1]]
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Could not write to the media store s3://{self.bucket}/{self.prefix} ({_reason(exc)}).") from None
        return key

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._object(key))["Body"].read()
        except ClientError as exc:
            if _reason(exc) in _MISSING:
                raise NotFound(f"The image {key} is missing from the media store.") from None
            raise StorageError(f"Could not read {key} from s3://{self.bucket} ({_reason(exc)}).") from None
        except BotoCoreError as exc:
            raise StorageError(f"Could not read {key} from s3://{self.bucket} ({_reason(exc)}).") from None

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
            return True
        except ClientError as exc:
            if _reason(exc) in _MISSING:
                return False
            raise StorageError(f"Could not reach s3://{self.bucket} ({_reason(exc)}).") from None
        except BotoCoreError as exc:
            raise StorageError(f"Could not reach s3://{self.bucket} ({_reason(exc)}).") from None

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object(key)}"

    def remove_partial_files(self, live_owners: set[str] = frozenset(), min_age: float = 0) -> int:
        """Nothing to sweep: an object exists whole or not at all."""
        return 0
