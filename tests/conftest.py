"""Every test runs in its own folder: database, media and thumbnails under tmp_path, no keys."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from imagegen.settings import Settings
from imagegen.jobs import open_workspace

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# Every setting's variable, so the suite passes whatever IMAGEGEN_* or provider variables the shell has.
ENV_VARS = tuple(field.alias for field in Settings.model_fields.values() if field.alias)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no developer .env or secrets.toml leaks in
    monkeypatch.setenv("IMAGEGEN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


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
