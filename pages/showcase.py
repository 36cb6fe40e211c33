"""Showcase: approved thumbnails as a gallery, read-only, for stakeholders.

Open the app as `/?kiosk=1` to show this page alone, with no navigation."""

from __future__ import annotations

import streamlit as st

from imagegen.catalog import find_agents
from ui.resources import workspace
from ui.showcase_gallery import gallery

ws = workspace()
st.title("Showcase")
with ws.session() as s:
    approved = [a for a in find_agents(s) if a.current_thumbnail]
if not approved:
    st.info("No approved thumbnails yet. Approve one in the studio and it appears here.", icon=":material/photo_library:")
    st.stop()
gallery(approved)
