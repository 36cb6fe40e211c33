"""Resources the pages share, opened once per process and cached by Streamlit."""

from __future__ import annotations

import base64

import streamlit as st

from imagegen.errors import ImagegenError
from imagegen.images import THUMBNAIL_SIDE
from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from imagegen.workspace import Workspace

# Thumbnail sizes, by where they are shown: a grid card is about 320 px wide in the wide
# layout, a lightbox or compare view about 1,000.
CARD = THUMBNAIL_SIDE
LARGE = 1280


@st.cache_resource(show_spinner=False)
def _open_workspace(database_url: str, media_url: str, _settings: Settings) -> Workspace:
    # Keyed by where the data lives, so a changed IMAGEGEN_DATA_DIR opens a new workspace.
    return open_workspace(_settings)


def workspace() -> Workspace:
    """The process's workspace; one that cannot open (an unwritable data folder, a database out
    of reach or too old) stops the page with one line saying why, not a traceback."""
    settings = Settings()
    try:
        return _open_workspace(settings.resolved_database_url, settings.resolved_media_url, settings)
    except ImagegenError as exc:
        st.error(f"Thumbnail Studio could not start: {exc}", icon=":material/error:")
        st.stop()


@st.cache_data(max_entries=512, show_spinner=False)
def thumbnail(key: str, max_side: int = CARD) -> bytes:
    """Small JPEG bytes for a media key; content-addressed, so it never goes stale."""
    return workspace().thumbnail(key, max_side)


@st.cache_data(max_entries=512, show_spinner=False)
def thumbnail_url(key: str, max_side: int = CARD) -> str:
    """The thumbnail as a data URL. `st.image` passes URLs straight to the browser, while bytes
    are opened with Pillow on every rerun to sniff their format and size: a thumbnail that
    exists is never decoded again."""
    return "data:image/jpeg;base64," + base64.b64encode(thumbnail(key, max_side)).decode("ascii")
