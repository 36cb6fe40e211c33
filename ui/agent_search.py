"""Agent pickers for History and Experiments: a search box and one page of matches, searched
and paged in SQL like the studio's sidebar, so a catalog of any size lists at most PAGE_SIZE."""

from __future__ import annotations

import streamlit as st

from imagegen.listings import agents_named, search_agents
from imagegen.workspace import Workspace

PAGE_SIZE = 50


def _search(ws: Workspace, key: str) -> tuple[dict[str, str], bool]:
    """slug -> name of one page of agents matching the search box `{key}_query`, and whether
    the search changed since the last rerun."""
    state = st.session_state
    query = st.text_input("Find an agent", key=f"{key}_query", placeholder="Name, slug or category")
    with ws.session() as s:
        page = search_agents(s, query, limit=PAGE_SIZE)
    found = {a.slug: a.name for a in page.items}
    searched = state.get(f"{key}_query_seen", query) != query
    state[f"{key}_query_seen"] = query
    if page.has_next:
        st.caption(f"The first {len(found)} of {page.total:,}{'' if page.total_exact else '+'} matches: "
                   "type more of a name to narrow them.")
    elif not found:
        st.caption("No agent matches that search.")
    return found, searched


def _with_kept(ws: Workspace, found: dict[str, str], kept: list[str]) -> dict[str, str]:
    """The page of matches, after the agents picked earlier that it leaves out (so a pick
    survives a search that hides it)."""
    missing = [slug for slug in kept if slug not in found]
    if not missing:
        return found
    with ws.session() as s:
        names = agents_named(s, missing)
    return {**{slug: names[slug] for slug in missing if slug in names}, **found}


def pick_agent(ws: Workspace, key: str, *, default: str | None = None) -> str | None:
    """One agent. The agent picked before (or `default`) stays picked until another pick, or a
    new search that leaves it out, which opens the first match. None when nothing matches."""
    state = st.session_state
    found, searched = _search(ws, key)
    current = state.get(key) or default
    if found and (current is None or (searched and current not in found)):
        current = next(iter(found))
    options = _with_kept(ws, found, [current] if current else [])
    if current not in options:  # deleted meanwhile
        current = next(iter(options), None)
    if current is None:
        return None
    state[key] = current
    st.selectbox("Agent", list(options), format_func=options.__getitem__, key=key)
    return current


def pick_agents(ws: Workspace, key: str, *, default: list[str] | None = None) -> list[str]:
    """Several agents (at first `default`, or the first two matches): those picked stay listed
    whatever the search shows."""
    state = st.session_state
    found, _ = _search(ws, key)
    chosen = state.get(key, list(found)[:2] if default is None else default)
    options = _with_kept(ws, found, chosen)
    state[key] = [slug for slug in chosen if slug in options]
    return st.multiselect("Agents", list(options), format_func=options.__getitem__, key=key)
