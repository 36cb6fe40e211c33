"""Resources the pages share, opened once per process and cached by Streamlit."""

from __future__ import annotations

import streamlit as st

from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from imagegen.workspace import Workspace


@st.cache_resource(show_spinner=False)
def _open_workspace(database_url: str, media_url: str, _settings: Settings) -> Workspace:
    # Keyed by where the data lives, so a changed IMAGEGEN_DATA_DIR opens a new workspace.
    return open_workspace(_settings)


def workspace() -> Workspace:
    settings = Settings()
    return _open_workspace(settings.resolved_database_url, settings.resolved_media_url, settings)


@st.cache_data(max_entries=512, show_spinner=False)
def thumbnail(key: str, max_side: int = 384) -> bytes:
    """Small JPEG bytes for a media key; content-addressed, so it never goes stale."""
    return workspace().thumbnail(key, max_side)
