"""Showcase: approved thumbnails by category, read-only, for stakeholders.

Open the app as `/?kiosk=1` to show this page alone, with no navigation. Agent text comes
from the catalog, so it is shown as plain text: a name like `[x](http://…)` stays text."""

from __future__ import annotations

import streamlit as st

from imagegen.catalog import all_categories, find_agents
from imagegen.export import export_zip
from ui.auth import in_kiosk, require_page
from ui.resources import thumbnail, workspace
from ui.text import literal

actor = require_page("viewer", showcase=True)
ws = workspace()
st.title("Showcase")
with ws.session() as s:
    approved = [a for a in find_agents(s) if a.current_thumbnail]
    categories = all_categories(s)

if not approved:
    st.info("No approved thumbnails yet. Approve one in the studio and it appears here.", icon=":material/photo_library:")
    st.stop()

st.caption(f"{len(approved)} agent{'s' if len(approved) != 1 else ''} with an approved thumbnail")
if actor is not None and not in_kiosk():  # a stakeholder screen offers no downloads
    st.download_button("Download the approved set", data=lambda: export_zip(ws), file_name="approved-thumbnails.zip",
                       mime="application/zip", key="download_set", icon=":material/download:", on_click="ignore")
groups = [(c, [a for a in approved if c in a.categories]) for c in categories]
groups.append(("Uncategorised", [a for a in approved if not a.categories]))
for category, agents in groups:
    if not agents:
        continue
    st.subheader(literal(category.capitalize()))
    cols = st.columns(3)
    for i, agent in enumerate(agents):
        with cols[i % 3]:
            st.image(thumbnail(agent.current_thumbnail, 640), width="stretch")
            st.text(agent.name)
            if agent.sub_heading:
                st.text(agent.sub_heading)
