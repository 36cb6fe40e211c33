"""The showcase gallery: a dense grid, each agent once with its categories as tags, category
filters, a large view, and pages of thumbnails read from the database one page at a time, so
a big catalog stays light."""

from __future__ import annotations

import streamlit as st

from imagegen.listings import Page, category_names, search_agents
from imagegen.records import Agent
from imagegen.workspace import Workspace
from ui.resources import LARGE, thumbnail_url
from ui.text import literal
from ui.widgets import pager

PER_ROW = 5
PAGE = 40  # thumbnails read and sent per page; Previous and Next turn pages


def _tags(categories: list[str]) -> str:
    # Tags as written, never title-cased headings: the category "ai" must not read as the agent
    # "Ai", and "AI" and "ai" are two categories that filter apart.
    return " ".join(f":violet-badge[{literal(c)}]" for c in categories)


@st.dialog("Thumbnail", width="large", on_dismiss=lambda: st.session_state.pop("showcase_open", None))
def large_view(agent: Agent) -> None:
    st.image(thumbnail_url(agent.current_thumbnail, LARGE), width="stretch")
    st.markdown(f"**{literal(agent.name)}**")
    if agent.sub_heading:
        st.caption(literal(agent.sub_heading))
    if agent.categories:
        st.markdown(_tags(agent.categories))


def approved_page(ws: Workspace) -> tuple[Page[Agent], list[str]]:
    """The page of approved agents the category filter and the pager ask for, and every category
    in use: filtered, paged and counted in SQL (three statements whatever the catalog's size)."""
    state = st.session_state
    with ws.session() as s:
        categories = category_names(s)
        # A category no agent has any more is dropped before the pills are drawn with it.
        picked = [c for c in state.get("showcase_categories") or [] if c in categories]
        state["showcase_categories"] = picked
        page = search_agents(s, with_thumbnail=True, any_category=picked, offset=state.get("showcase_offset", 0), limit=PAGE)
        if not page.items and page.offset:  # the catalog shrank under this page: back to the first
            state["showcase_offset"] = 0
            page = search_agents(s, with_thumbnail=True, any_category=picked, limit=PAGE)
    return page, categories


def _turn(offset: int) -> None:
    st.session_state["showcase_offset"] = max(0, offset)
    st.session_state.pop("showcase_open", None)


def gallery(page: Page[Agent], categories: list[str]) -> None:
    state = st.session_state
    st.pills("Categories", categories, selection_mode="multi", key="showcase_categories", format_func=literal,
             on_change=_turn, args=(0,))
    total = f"{page.total:,}" + ("" if page.total_exact else "+")
    shown = f"{page.offset + 1:,}-{page.offset + len(page.items):,} of " if page.has_next or page.has_previous else ""
    st.caption(f"{shown}{total} agent{'s' if page.total != 1 else ''} with an approved thumbnail"
               + (" in these categories" if state.get("showcase_categories") else ""))
    by_slug = {a.slug: a for a in page.items}
    for start in range(0, len(page.items), PER_ROW):
        for col, agent in zip(st.columns(PER_ROW), page.items[start:start + PER_ROW]):
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
    pager(page, "showcase", _turn)
    if state.get("showcase_open") in by_slug:
        large_view(by_slug[state["showcase_open"]])
