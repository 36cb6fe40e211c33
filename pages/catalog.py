"""Catalog: import agents (store-export CSV, JSON list, or the store API) with a preview; edit an agent."""

from __future__ import annotations

import asyncio

import streamlit as st

from imagegen.catalog import fetch_store_catalog, import_catalog, parse_catalog, preview_import, update_agent_text
from imagegen.errors import ImagegenError
from ui.agent_search import pick_agent
from ui.auth import require_page
from ui.resources import workspace
from ui.text import literal

actor = require_page("admin")
ws = workspace()
st.title("Catalog")


@st.cache_data(ttl=600, max_entries=8, show_spinner="Fetching the store…")
def store_pages(base_url: str, page_size: int) -> tuple[list[dict], list[str]]:
    """Read-only and bounded (timeouts, retries, a page cap), so caching it is safe."""
    result = asyncio.run(fetch_store_catalog(ws, base_url, page_size=page_size, actor=actor))
    return result.rows, result.errors


def preview_and_import(rows: list[dict], key: str) -> None:
    with ws.session() as s:
        preview = preview_import(s, rows)
    adds = sum(p["action"] == "add" for p in preview)
    updates = sum(p["action"] == "update" for p in preview)
    skips = [p for p in preview if p["action"] == "skip"]
    st.markdown(f"**{len(rows)} rows:** {adds} new, {updates} updates, {len(skips)} with errors")
    st.dataframe(
        preview, hide_index=True, width="stretch",
        column_order=("row", "image", "name", "sub_heading", "categories", "slug", "action", "error"),
        column_config={"image": st.column_config.ImageColumn("store image"), "sub_heading": "sub-heading"},
    )
    wanted = adds + updates
    if st.button(f"Import {wanted} agent{'s' if wanted != 1 else ''}", type="primary", key=f"import_{key}", disabled=not wanted):
        report = import_catalog(ws, rows, source=key, actor=actor)
        st.success(f"Imported: {report.added} added, {report.updated} updated" + (f", {report.skipped} skipped." if report.skipped else "."))


file_tab, store_tab, edit_tab = st.tabs(["Import a file", "Import from the store", "Edit an agent"])

with file_tab:
    upload = st.file_uploader("A store-export CSV or a JSON list of agents", type=["csv", "json"], key="catalog_file")
    if upload is not None:
        try:
            preview_and_import(parse_catalog(upload.getvalue(), upload.name, max_mb=ws.settings.import_max_mb), "file")
        except ImagegenError as exc:
            st.error(str(exc))

with store_tab:
    c1, c2 = st.columns([3, 1])
    base_url = c1.text_input("Store base URL", placeholder="https://store.example.com", key="store_url")
    page_size = c2.number_input("Page size", 1, 200, 50, key="store_page_size")
    if base_url and st.button("Fetch agents", key="store_fetch", icon=":material/cloud_download:"):
        st.session_state["store_fetched"] = (base_url, int(page_size))
    if st.session_state.get("store_fetched"):
        try:
            rows, errors = store_pages(*st.session_state["store_fetched"])
        except ImagegenError as exc:  # e.g. a host not in IMAGEGEN_STORE_HOSTS
            st.error(str(exc), icon=":material/block:")
            rows, errors = [], []
        if errors and not rows:  # nothing came back: the address is wrong or the store is down
            st.error(f"Could not read agents from {st.session_state['store_fetched'][0]}: {errors[0].split(': ', 1)[-1]}. "
                     "Check the address (the store's base URL, without /api).", icon=":material/cloud_off:")
        else:
            for error in errors:
                st.warning(f"Skipped {error}", icon=":material/warning:")
        if rows:
            preview_and_import(rows, "store")

with edit_tab:
    slug = pick_agent(ws, "edit_agent")
    if slug is None:
        st.stop()
    agent = ws.get_agent(slug)
    with st.form(f"edit_{slug}"):
        name = st.text_input("Name", agent.name)
        sub_heading = st.text_input("Sub-heading", agent.sub_heading)
        description = st.text_area("Description", agent.description, height=200)
        categories = st.text_input("Categories (comma-separated)", ", ".join(agent.categories))
        if st.form_submit_button("Save", type="primary"):
            try:
                with ws.session() as s, s.begin():
                    update_agent_text(s, slug, name=name, sub_heading=sub_heading, description=description,
                                      categories=[c.strip() for c in categories.split(",") if c.strip()], actor=actor)
                st.success(f"Saved {literal(name)}.")
            except ImagegenError as exc:
                st.error(str(exc))
