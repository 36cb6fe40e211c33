"""Every test runs in its own folder: database, media and thumbnails under tmp_path, no keys.

The database backend is chosen once for the session by IMAGEGEN_TEST_BACKEND (`sqlite`, the
default, or `postgresql`); every test, and every subprocess it starts, sees its own fresh
database through IMAGEGEN_DATABASE_URL.
"""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import pytest
from PIL import Image

from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from imagegen.storage.db import migrate
from tests import pg

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# Every setting's variable, and the standard AWS ones, so the suite passes whatever the shell has.
AWS_VARS = (
    "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
)
ENV_VARS = tuple(field.alias for field in Settings.model_fields.values() if field.alias) + AWS_VARS


BACKEND = os.environ.get("IMAGEGEN_TEST_BACKEND", "sqlite")


@pytest.fixture(scope="session")
def pg_cluster():
    """One PostgreSQL server for the session, with a migrated template database."""
    try:
        cluster = pg.PgCluster().start()
    except pg.Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the PostgreSQL backend: {exc}")
        pytest.skip(f"PostgreSQL backend unavailable: {exc}")
    try:
        cluster.template = cluster.create_template(migrate)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database_url(request, tmp_path):
    """The URL of this test's own, empty but migrated database (None = SQLite in the data folder)."""
    if BACKEND == "sqlite":
        yield None
        return
    if BACKEND != "postgresql":
        pytest.fail(f"IMAGEGEN_TEST_BACKEND={BACKEND!r}: use sqlite or postgresql")
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.fresh_database(cluster.template)
    yield url
    cluster.drop(url)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, database_url):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no developer .env or secrets.toml leaks in
    monkeypatch.setenv("IMAGEGEN_DATA_DIR", str(tmp_path / "data"))
    if database_url:
        monkeypatch.setenv("IMAGEGEN_DATABASE_URL", database_url)
    # Jobs run in the test's own process on both backends; tests/test_workers.py starts real
    # workers and sets IMAGEGEN_JOB_QUEUE=procrastinate itself.
    monkeypatch.setenv("IMAGEGEN_JOB_QUEUE", "in-process")
    return tmp_path


@pytest.fixture(scope="session")
def s3_server():
    from tests.fake_s3 import FakeS3

    server = FakeS3().start()
    yield server
    server.stop()


S3_SECRET = "fake-s3-secret-never-shown"
_BUCKETS = itertools.count(1)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """Standard AWS settings pointing at the fake S3, and a fresh bucket; returns its s3:// URL."""
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL": s3_server.endpoint, "AWS_ACCESS_KEY_ID": "fake-s3-key-id",
        "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"media-{next(_BUCKETS)}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/studio"


@pytest.fixture
def ws(isolated):
    workspace = open_workspace(Settings())
    yield workspace
    workspace.close()


@pytest.fixture
def app(isolated):
    """The app as a curator first sees it, through AppTest, with fresh Streamlit caches."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    yield at
    st.cache_resource.clear()


@pytest.fixture
def shared_dir() -> Path:
    if not (SHARED / "DESIGN.md").exists():
        pytest.skip("../shared is not beside this checkout")
    return SHARED


def png_bytes(size=(64, 48), colour=(200, 30, 90), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, "PNG", **save)
    return out.getvalue()


def jpeg_bytes(size=(1024, 768), colour=(20, 120, 200), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90, **save)
    return out.getvalue()
