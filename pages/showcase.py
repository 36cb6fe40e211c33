"""Showcase: approved thumbnails by category, read-only, for stakeholders.

Open the app as `/?kiosk=1` to show this page alone, with no navigation."""

from __future__ import annotations

import streamlit as st

from imagegen.catalog import all_categories, find_agents
from ui.resources import thumbnail_url, workspace

ws = workspace()
st.title("Showcase")
with ws.session() as s:
    approved = [a for a in find_agents(s) if a.current_thumbnail]
    categories = all_categories(s)

if not approved:
    st.info("No approved thumbnails yet. Approve one in the studio and it appears here.", icon=":material/photo_library:")
    st.stop()

st.caption(f"{len(approved)} agent{'s' if len(approved) != 1 else ''} with an approved thumbnail")
groups = [(c, [a for a in approved if c in a.categories]) for c in categories]
groups.append(("Uncategorised", [a for a in approved if not a.categories]))
for category, agents in groups:
    if not agents:
        continue
    st.subheader(category.capitalize())
    cols = st.columns(3)
    for i, agent in enumerate(agents):
        with cols[i % 3]:
            st.image(thumbnail_url(agent.current_thumbnail, 640), width="stretch")
            st.markdown(f"**{agent.name}**")
            if agent.sub_heading:
                st.caption(agent.sub_heading)
