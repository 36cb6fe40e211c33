"""The studio's sidebar: find an agent in a bounded list, deep links, and recipe recall.

The agent being worked on lives in `state["agent_slug"]`, apart from any widget, so a widget
that resets (its labels change when a thumbnail is approved, a filter hides the agent) never
moves the curator to another agent: only a pick, a search or a link does.
"""

from __future__ import annotations

import streamlit as st

from imagegen.approval import get_approval
from imagegen.errors import ImagegenError
from imagegen.images import read_recipe
from imagegen.prompts import clean_text
from imagegen.records import Agent
from imagegen.listings import category_names, search_agents
from imagegen.review import set_short_title
from imagegen.workspace import Workspace
from ui.recipe_state import load_recipe
from ui.resources import CARD, thumbnail_url
from ui.auth import current_actor
from ui.publishing import current_publish_state, store_image
from ui.text import literal

PAGE_SIZE = 50  # the picker never lists more than this; the search narrows big catalogs
ALL = "All categories"


def _picked() -> None:
    st.session_state["agent_slug"] = st.session_state["agent_pick"]


def _agent_label(name: str, has_thumbnail: bool) -> str:
    return name + (" ✓" if has_thumbnail else "")


def apply_link(ws: Workspace) -> None:
    """`?agent=slug&generation=id` opens that agent (and board) once per new link: a refresh,
    a shared link or the back button lands on the same view."""
    state = st.session_state
    slug = st.query_params.get("agent")
    generation = st.query_params.get("generation")
    link = (slug, generation)
    if not slug or state.get("link_seen") == link:
        return
    state["link_seen"] = link
    try:
        ws.get_agent(slug)
    except ImagegenError:
        state["link_problem"] = f"The link names an agent {slug!r} that is not in the catalog."
        return
    if state.get("agent_slug") != slug:
        state["agent_slug"] = slug
    if generation and generation.isdigit():
        state.setdefault("linked_generation", {})[slug] = int(generation)


def choose_agent(ws: Workspace) -> str | None:
    """Draw the sidebar and return the agent's slug (None when the catalog is empty)."""
    state = st.session_state
    apply_link(ws)
    with st.sidebar:
        st.subheader("Find an agent")
        query = st.text_input("Search", key="agent_query", placeholder="Name, slug or category")
        with ws.session() as s:
            categories = category_names(s)
        category = st.selectbox("Category", [ALL, *categories], key="agent_category")
        only_missing = st.toggle("Only agents without a thumbnail", key="only_missing")
        with ws.session() as s:  # one page, counted in SQL: a catalog of any size stays quick
            page = search_agents(s, query, only_missing=only_missing, category=None if category == ALL else category, limit=PAGE_SIZE)
        found = [(a.slug, a.name, bool(a.current_thumbnail)) for a in page.items]
        total = f"{page.total:,}" + ("" if page.total_exact else "+")
        filters = (query, category, only_missing)
        searched = state.get("filters_seen", filters) != filters  # the curator changed the search just now
        state["filters_seen"] = filters
        shown = {slug: _agent_label(name, has_thumbnail) for slug, name, has_thumbnail in found}
        current = state.get("agent_slug")
        if found and (current is None or (searched and current not in shown)):
            current = state["agent_slug"] = found[0][0]  # a new search opens its first match
        if not found:
            st.info("No agent matches. Clear the search or the filters.")
        if current is None:
            return None
        if current not in shown:  # kept in view, so the list still shows who is open
            agent = ws.get_agent(current)
            shown = {current: _agent_label(agent.name, bool(agent.current_thumbnail)), **shown}
        state["agent_pick"] = current
        st.selectbox(
            f"{total} agent{'s' if page.total != 1 else ''}",
            list(shown),
            format_func=shown.__getitem__,
            key="agent_pick",
            on_change=_picked,
            help="✓ marks agents that already have a thumbnail.",
        )
        if page.has_next:
            st.caption(f"Showing the first {len(found)} of {total}: type more of a name to narrow the list.")
        with st.expander("Recall a recipe from an image"):
            st.file_uploader(
                "Drop a generated image", type=["png", "jpg", "jpeg"], key="recall_upload", on_change=_recall_from_image, args=(ws,)
            )
    return current


def _recall_from_image(ws: Workspace) -> None:
    """Dropping a generated image on the studio brings its recipe back."""
    state = st.session_state
    upload = state.get("recall_upload")
    if upload is None:
        return
    try:
        recipe = read_recipe(upload.getvalue())
    except ImagegenError as exc:  # e.g. a decompression bomb
        state["recall_message"] = ("error", str(exc))
        return
    if recipe is None:
        state["recall_message"] = ("warning", "That image carries no Thumbnail Studio recipe.")
        return
    try:
        known = ws.get_agent(recipe.get("agent", "")).slug
    except ImagegenError:
        known = None
    try:
        load_recipe(state, recipe, known)
    except ValueError as exc:
        state["recall_message"] = ("error", f"The recipe in that image could not be read: {exc}")
        return
    state["recall_message"] = ("success", f"Recipe recalled ({recipe.get('provider')}, seed {recipe.get('seed')}).")


def keep_link(slug: str, generation_id: int | None) -> None:
    """Mirror the view in the URL, so a refresh or a shared link opens it again."""
    params = {"agent": slug, **({"generation": str(generation_id)} if generation_id else {})}
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
    st.session_state["link_seen"] = (slug, params.get("generation"))


def _save_short_title(ws: Workspace, slug: str) -> None:
    try:
        title = set_short_title(ws, slug, st.session_state[f"short_title_{slug}"], actor=current_actor())
        st.session_state["studio_message"] = ("success", f"Images now show “{title}”." if title else "Images show the full name again.")
    except ImagegenError as exc:
        st.session_state["studio_message"] = ("error", str(exc))


def agent_summary(ws: Workspace, agent: Agent) -> None:
    """The agent's heading, current thumbnail, categories, description and short title, and
    the messages of the last action."""
    state = st.session_state
    st.title(literal(agent.name))  # catalog text: shown as written, never as Markdown
    if agent.sub_heading:
        st.caption(literal(agent.sub_heading))
    for key in ("link_problem", "recall_message", "studio_message"):
        message = state.pop(key, None)
        if isinstance(message, str):
            st.warning(message, icon=":material/link_off:")
        elif message:
            getattr(st, message[0])(message[1])
    approved = state.pop("just_approved", None)
    if approved:
        approval = get_approval(ws, approved)
        st.success(f"Approved candidate #{approval.candidate_id}.", icon=":material/verified:")
    st.markdown("**Current thumbnail**")
    if agent.current_thumbnail:
        st.image(thumbnail_url(agent.current_thumbnail, CARD), width="stretch")
        st.checkbox("Compare with the candidates", key="compare_current")
    else:
        st.info("No thumbnail yet.", icon=":material/hide_image:")
    current_publish_state(agent, current_actor())
    store_image(agent)
    if agent.categories:
        st.markdown(" ".join(f":violet-badge[{literal(c)}]" for c in agent.categories))
    with st.expander("Description", expanded=False):
        st.text(clean_text(agent.description, 2000) or "No description.")
    with st.expander("Short title" + (f": {agent.short_title}" if agent.short_title else "")):
        st.caption("Drawn into the image instead of a long name; leave empty to use the name.")
        st.text_input("Short title", value=agent.short_title, key=f"short_title_{agent.slug}", max_chars=40,
                      on_change=_save_short_title, args=(ws, agent.slug))
