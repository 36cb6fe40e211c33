import hashlib
import os

import pytest

from imagegen.errors import ConfigError, NotFound
from imagegen.storage.media import LocalMediaStore, open_media_store


def test_put_is_content_addressed_and_round_trips(tmp_path):
    store = LocalMediaStore(tmp_path / "media")
    key = store.put(b"\x89PNG fake", "PNG")
    digest = hashlib.sha256(b"\x89PNG fake").hexdigest()
    assert key == f"{digest[:2]}/{digest}.png"
    assert store.get(key) == b"\x89PNG fake"
    assert store.put(b"\x89PNG fake", "PNG") == key  # stored once


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "ab/../../x.png", "ab/" + "0" * 64 + ".exe"])
def test_no_key_can_escape_the_root(tmp_path, key):
    store = LocalMediaStore(tmp_path / "media")
    with pytest.raises(NotFound):
        store.get(key)


def test_writes_leave_no_temporary_files_and_leftovers_are_swept(tmp_path):
    store = LocalMediaStore(tmp_path / "media")
    key = store.put(b"data", "JPEG")
    folder = (tmp_path / "media" / key).parent
    assert sorted(os.listdir(folder)) == [key.split("/")[1]]
    (folder / ".tmp-dead-1.part").write_bytes(b"half")
    (folder / ".tmp-live-2.part").write_bytes(b"being written")
    assert store.remove_partial_files({"live"}, min_age=0) == 1  # only the file whose owner holds no lease
    assert sorted(os.listdir(folder)) == [".tmp-live-2.part", key.split("/")[1]]
    assert store.remove_partial_files(set(), min_age=60) == 0  # a fresh file may belong to a writer without a lease


def test_missing_image_says_so(tmp_path):
    with pytest.raises(NotFound, match="missing"):
        LocalMediaStore(tmp_path).get("ab/" + "0" * 64 + ".png")


def test_s3_urls_are_refused_clearly(tmp_path):
    with pytest.raises(ConfigError, match="IMAGEGEN_MEDIA_URL"):
        open_media_store("s3://bucket/prefix")
