"""Batch: regenerate many agents with one recipe; pause, cancel, resume; review and approve per agent."""

from __future__ import annotations

import zlib

import streamlit as st

from imagegen.batch import create_batch, select_agents, selection_size
from imagegen.catalog import all_categories
from imagegen.costs import estimate
from imagegen.errors import ImagegenError
from imagegen.listings import batches_page
from imagegen.palettes import PRESETS
from imagegen.providers import default_provider, provider_choices
from imagegen.recipes import list_templates, make_spec
from imagegen.records import ASPECT_RATIOS, BatchStatus
from ui.batch_review import batch_view, open_batch_dialog
from ui.auth import require_page
from ui.resources import workspace
from ui.widgets import pager

actor = require_page("curator")
ws = workspace()
state = st.session_state
st.title("Batch")

PICKER = 20  # batches listed in the picker at a time, newest first

with st.expander("New batch", expanded=not state.get("batch_id")):
    with ws.session() as s:
        categories = all_categories(s)
    how = st.segmented_control("Agents", ["Without a thumbnail", "A category", "A list of slugs", "All"], default="Without a thumbnail", key="batch_how")
    category = st.selectbox("Category", categories, key="batch_category") if how == "A category" else None
    slugs = st.text_input("Slugs, comma-separated", key="batch_slugs") if how == "A list of slugs" else ""
    choices = {c.cls.name: c for c in provider_choices(ws.settings) if c.enabled}
    cols = st.columns(4)
    provider = cols[0].selectbox("Provider", list(choices), index=list(choices).index(default_provider(ws.settings)), key="batch_provider")
    templates = list(list_templates(ws))
    template = cols[1].selectbox("Template", templates, index=templates.index(choices[provider].cls.default_template), key="batch_template")
    palette = cols[2].selectbox("Palette", list(PRESETS), key="batch_palette")
    aspect = cols[3].selectbox("Aspect ratio", ASPECT_RATIOS, index=ASPECT_RATIOS.index("16x9"), key="batch_aspect")
    cols = st.columns(3)
    count = cols[0].slider("Candidates per agent", 1, 8, 2, key="batch_count")
    auto = cols[1].toggle("Auto-approve", key="batch_auto",
                           help="Approve each agent's first good candidate. Off: results wait for your review.")
    name = cols[2].text_input("Name", key="batch_name")
    try:
        # Counted in SQL on every run; the agents themselves are read only when the batch starts.
        selection = {"missing": how == "Without a thumbnail", "category": category,
                     "slugs": [s.strip() for s in slugs.split(",") if s.strip()] or None}
        size, first = selection_size(ws, **selection) if how and (how != "A list of slugs" or slugs.strip()) else (0, None)
        recipe = {"provider": provider, "template": template, "palette": palette, "aspect_ratio": aspect, "count": count}
        # The price does not depend on the agent's text: one recipe's estimate times the agents.
        cost = estimate(ws, make_spec(ws, first, **recipe)) * size if size else 0.0
        st.caption(f"{size:,} agents, {size * count:,} images" + (f", estimated ${cost:.2f}" if cost else ""))
        if st.button("Start batch", type="primary", key="batch_start", icon=":material/play_arrow:", disabled=not size):
            batch_id = create_batch(ws, select_agents(ws, **selection), recipe, name=name, auto_approve=auto,
                                    selection={"how": how, "category": category, "slugs": slugs}, actor=actor)
            ws.jobs.submit_batch(batch_id)
            state["batch_id"] = state["batch_selected"] = batch_id
            state["batch_list_offset"] = 0  # the new batch is the newest
            st.rerun()
    except ImagegenError as exc:
        st.warning(str(exc))

with ws.session() as s:  # one page of batches, progress counted in SQL
    listed = batches_page(s, offset=state.get("batch_list_offset", 0), limit=PICKER)
    if not listed.items and listed.offset:  # batches went away under this page: back to the newest
        state["batch_list_offset"] = 0
        listed = batches_page(s, limit=PICKER)
if not listed.items:
    st.info("No batches yet.", icon=":material/stacks:")
    st.stop()
summaries = {b.batch.id: b for b in listed.items}
ids = list(summaries)
labels = {i: f"#{i} {b.batch.name} · {b.batch.status.value}" for i, b in summaries.items()}
# The browser keeps showing the label a selectbox's value was first sent with, so a batch going from
# "running" to "done" needs a new widget: its key carries the labels, and the pick is kept beside it.
if state.get("batch_selected") not in ids:
    state["batch_selected"] = state["batch_id"] if state.get("batch_id") in ids else ids[0]
pick_key = f"batch_pick_{zlib.crc32(repr(labels).encode())}"
batch_id = st.selectbox("Batch", ids, format_func=labels.get, index=ids.index(state["batch_selected"]), key=pick_key,
                        on_change=lambda: state.update(batch_selected=state[pick_key]))
if listed.has_next or listed.has_previous:
    st.caption(f"Batches {listed.offset + 1:,}-{listed.offset + len(ids):,} of {listed.total:,}"
               f"{'' if listed.total_exact else '+'}, newest first")
pager(listed, "batch_list", lambda offset: state.update(batch_list_offset=offset), back="Newer batches", forward="Older batches")
status = summaries[batch_id].batch.status
st.fragment(batch_view, run_every=1.0 if status is BatchStatus.RUNNING else None)(ws, batch_id, status)
open_batch_dialog(ws)
