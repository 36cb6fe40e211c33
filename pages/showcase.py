"""Showcase: approved thumbnails as a gallery, read-only, for stakeholders.

Open the app as `/?kiosk=1` to show this page alone, with no navigation. Agent text comes
from the catalog, so it is shown as plain text: a name like `[x](http://…)` stays text."""

from __future__ import annotations

import streamlit as st

from imagegen.export import export_zip
from ui.auth import in_kiosk, require_page
from ui.resources import workspace
from ui.showcase_gallery import approved_page, gallery

actor = require_page("viewer", showcase=True)
ws = workspace()
st.title("Showcase")
page, categories = approved_page(ws)
if not page.items and not st.session_state.get("showcase_categories"):
    st.info("No approved thumbnails yet. Approve one in the studio and it appears here.", icon=":material/photo_library:")
    st.stop()
if actor is not None and not in_kiosk():  # a stakeholder screen offers no downloads
    st.download_button("Download the approved set", data=lambda: export_zip(ws), file_name="approved-thumbnails.zip",
                       mime="application/zip", key="download_set", icon=":material/download:", on_click="ignore")
gallery(page, categories)
