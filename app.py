"""Thumbnail Studio: wiring only. The pages are views; imagegen/ does the work."""

import streamlit as st

from ui.resources import workspace

st.set_page_config(page_title="Thumbnail Studio", page_icon=":material/auto_awesome:", layout="wide")
workspace()  # open the database, media store and job runner once, before any page needs them

page = st.navigation(
    [
        st.Page("pages/studio.py", title="Studio", icon=":material/palette:", default=True),
    ]
)
page.run()
