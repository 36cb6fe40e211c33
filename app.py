"""Thumbnail Studio: wiring only. The pages are views; imagegen/ does the work."""

import streamlit as st

from ui.auth import in_kiosk
from ui.resources import workspace

st.set_page_config(page_title="Thumbnail Studio", page_icon="🎨", layout="wide")  # an emoji: a `:material/...:` icon is fetched from fonts.gstatic.com

# `?kiosk=1` shows the showcase alone, for stakeholders; every other page refuses (ui/auth.py).
kiosk = in_kiosk()
page = st.navigation(
    [
        st.Page("pages/studio.py", title="Studio", icon=":material/palette:", default=not kiosk),
        st.Page("pages/history.py", title="History", icon=":material/history:"),
        st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
        st.Page("pages/batch.py", title="Batch", icon=":material/stacks:"),
        st.Page("pages/catalog.py", title="Catalog", icon=":material/inventory_2:"),
        st.Page("pages/showcase.py", title="Showcase", icon=":material/photo_library:", default=kiosk),
    ],
    position="hidden" if kiosk else "sidebar",
)
workspace()  # open the database, media store and job runner once, before any page needs them (or say why it cannot)
page.run()
