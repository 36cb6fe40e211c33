import hashlib
import os

import pytest

from imagegen.errors import ConfigError, NotFound, StorageError
from imagegen.storage.media import LocalMediaStore, open_media_store
from imagegen.storage.s3 import S3MediaStore
from tests.conftest import S3_SECRET


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """Every promise of the media store, kept by the local folder and by S3 alike."""
    if request.param == "s3":
        return open_media_store(request.getfixturevalue("s3_env"))
    return open_media_store(str(tmp_path / "media"))


def test_put_is_content_addressed_and_round_trips(store):
    key = store.put(b"\x89PNG fake", "PNG")
    digest = hashlib.sha256(b"\x89PNG fake").hexdigest()
    assert key == f"{digest[:2]}/{digest}.png"
    assert store.get(key) == b"\x89PNG fake"
    assert store.exists(key)
    assert store.put(b"\x89PNG fake", "PNG") == key  # stored once


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "ab/../../x.png", "ab/" + "0" * 64 + ".exe"])
def test_no_key_can_escape_the_root(store, key):
    with pytest.raises(NotFound):
        store.get(key)


def test_missing_image_says_so(store):
    key = "ab/" + "0" * 64 + ".png"
    assert not store.exists(key)
    with pytest.raises(NotFound, match="missing"):
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


def test_s3_urls_open_an_s3_store_under_the_prefix(s3_env):
    store = open_media_store(s3_env)
    assert isinstance(store, S3MediaStore)
    key = store.put(b"bytes", "WEBP")
    bucket, prefix = s3_env[len("s3://"):].split("/", 1)
    listed = store.client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"{prefix}/{key}"]
    assert store.client.head_object(Bucket=bucket, Key=f"{prefix}/{key}")["ContentType"] == "image/webp"
    assert store.location(key) == f"{s3_env}/{key}"


def test_s3_writes_are_one_put_of_the_whole_object_and_equal_bytes_are_not_sent_again(s3_env):
    store = open_media_store(s3_env)
    calls = []
    store.client.meta.events.register("before-call.s3", lambda model, **kw: calls.append(model.name))
    store.put(b"x" * 100_000, "PNG")
    assert calls == ["HeadObject", "PutObject"]  # no multipart upload: never a partial object
    calls.clear()
    store.put(b"x" * 100_000, "PNG")
    assert calls == ["HeadObject"]


def test_an_unreachable_s3_is_one_clear_line_without_the_secret(s3_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the discard port: nothing listens
    store = open_media_store(s3_env)
    with pytest.raises(StorageError) as err:
        store.put(b"bytes", "PNG")
    message = str(err.value)
    assert "s3://" in message and "\n" not in message and S3_SECRET not in message


def test_a_bad_s3_url_is_refused_clearly():
    with pytest.raises(ConfigError, match="IMAGEGEN_MEDIA_URL"):
        open_media_store("s3:///no-bucket")


def test_two_hosts_sharing_the_database_and_s3_see_the_same_candidates_and_keep_their_own_thumbnails(
    isolated, s3_env, monkeypatch, database_url
):
    from imagegen.approval import approve_candidate
    from imagegen.generation import run_to_completion, start_generation
    from imagegen.recipes import make_spec
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace

    shared_db = database_url or f"sqlite:///{isolated / 'shared.db'}"
    hosts = []
    for name in ("web", "worker"):
        monkeypatch.setenv("IMAGEGEN_DATA_DIR", str(isolated / name))
        hosts.append(open_workspace(Settings(IMAGEGEN_DATABASE_URL=shared_db, IMAGEGEN_MEDIA_URL=s3_env)))
    web, worker = hosts
    try:
        gen_id = start_generation(worker, "pixel-poster", make_spec(worker, worker.get_agent("pixel-poster"), provider="local", count=2, seed=3))
        run_to_completion(worker, gen_id)
        keys = [c.image_key for c in web.get_generation(gen_id).candidates]
        assert all(keys) and not list((isolated / "worker").glob("media/**/*.png"))  # the bytes went to S3 only
        assert web.thumbnail(keys[0])[:3] == b"\xff\xd8\xff"  # the web server reads what the worker wrote
        assert list((isolated / "web" / "thumbs").rglob("*")) and not (isolated / "worker" / "thumbs").exists()
        approval = approve_candidate(web, web.get_generation(gen_id).candidates[0].id)
        assert worker.media.get(approval.upload_key)[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        for host in hosts:
            host.close()


def test_a_generated_image_is_hashed_once(ws, monkeypatch):
    """Measured: each image was hashed twice, for the key recorded before its file was written and
    again inside the store's put; a paid image of several megabytes pays for that hash twice."""
    from imagegen import storage
    from imagegen.generation import run_to_completion, start_generation
    from imagegen.recipes import make_spec

    hashed, real = [], storage.media.media_key
    monkeypatch.setattr(storage.media, "media_key", lambda data, fmt: hashed.append(len(data)) or real(data, fmt))
    spec = make_spec(ws, ws.get_agent("ai"), provider="local", count=2, seed=5)
    gen_id = start_generation(ws, "ai", spec)
    assert run_to_completion(ws, gen_id).value == "succeeded"
    assert len(hashed) == 2
    for cand in ws.get_generation(gen_id).candidates:  # each file under the key of its own bytes
        assert cand.image_key == real(ws.media.get(cand.image_key), "PNG")
