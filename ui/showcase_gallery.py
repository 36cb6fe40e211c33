"""The showcase gallery: a dense grid, each agent once with its categories as tags, category
filters, a large view, and pages of thumbnails so a big catalog stays light."""

from __future__ import annotations

import streamlit as st

from imagegen.records import Agent
from ui.resources import LARGE, thumbnail_url
from ui.text import literal

PER_ROW = 5
PAGE = 40  # thumbnails sent per page view; "Show more" adds the next page


def _tags(categories: list[str]) -> str:
    # Lower-case tags, never title-cased headings: the category "ai" must not read as the agent "Ai".
    return " ".join(f":violet-badge[{literal(c.lower())}]" for c in categories)


@st.dialog("Thumbnail", width="large", on_dismiss=lambda: st.session_state.pop("showcase_open", None))
def large_view(agent: Agent) -> None:
    st.image(thumbnail_url(agent.current_thumbnail, LARGE), width="stretch")
    st.markdown(f"**{literal(agent.name)}**")
    if agent.sub_heading:
        st.caption(literal(agent.sub_heading))
    if agent.categories:
        st.markdown(_tags(agent.categories))


def gallery(approved: list[Agent]) -> None:
    state = st.session_state
    categories = sorted({c for a in approved for c in a.categories})
    picked = st.pills("Categories", categories, selection_mode="multi", key="showcase_categories", format_func=str.lower)
    shown = [a for a in approved if not picked or set(picked) & set(a.categories)]
    st.caption(f"{len(shown)} of {len(approved)} agent{'s' if len(approved) != 1 else ''} with an approved thumbnail")
    limit = state.setdefault("showcase_limit", PAGE)
    by_slug = {a.slug: a for a in shown}
    for start in range(0, min(limit, len(shown)), PER_ROW):
        for col, agent in zip(st.columns(PER_ROW), shown[start:start + PER_ROW]):
            with col:
                # One tile shape for every agent, whatever the ratio (letterboxed, never cropped: the
                # title drawn in the image must stay whole), so the grid stays even.
                st.html(f'<img src="{thumbnail_url(agent.current_thumbnail, 320)}" alt="" '
                        'style="width:100%;aspect-ratio:16/9;object-fit:contain;background:#1C0C47;border-radius:6px;display:block">')
                st.markdown(f"**{literal(agent.name)}**")
                if agent.categories:
                    st.markdown(_tags(agent.categories))
                st.button("View", key=f"showcase_view_{agent.slug}", icon=":material/zoom_in:", type="tertiary",
                          on_click=state.__setitem__, args=("showcase_open", agent.slug))
    if len(shown) > limit:
        st.button(f"Show more ({len(shown) - limit} left)", key="showcase_more",
                  on_click=state.__setitem__, args=("showcase_limit", limit + PAGE))
    if state.get("showcase_open") in by_slug:
        large_view(by_slug[state["showcase_open"]])
