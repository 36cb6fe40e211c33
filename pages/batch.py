"""Batch: regenerate many agents with one recipe; pause, cancel, resume; review and approve per agent."""

from __future__ import annotations

import streamlit as st

from imagegen.approval import approve_candidate
from imagegen.batch import batch_generations, create_batch, get_batch, list_batches, select_agents, set_batch_status
from imagegen.catalog import all_categories
from imagegen.costs import estimate
from imagegen.errors import ImagegenError
from imagegen.palettes import PRESETS
from imagegen.providers import default_provider, provider_choices
from imagegen.recipes import list_templates, make_spec
from imagegen.records import ASPECT_RATIOS, BatchItemStatus, BatchStatus
from ui.auth import require_page
from ui.resources import thumbnail, workspace
from ui.text import literal
from ui.widgets import status_badge

actor = require_page("curator")
ws = workspace()
state = st.session_state
st.title("Batch")

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
    auto = cols[1].toggle("Approve each agent's first good candidate", key="batch_auto", help="Off: results wait for your review.")
    name = cols[2].text_input("Name", key="batch_name")
    try:
        agents = select_agents(
            ws, missing=how == "Without a thumbnail", category=category,
            slugs=[s.strip() for s in slugs.split(",") if s.strip()] or None,
        ) if how and (how != "A list of slugs" or slugs.strip()) else []
        recipe = {"provider": provider, "template": template, "palette": palette, "aspect_ratio": aspect, "count": count}
        # The price does not depend on the agent's text: one recipe's estimate times the agents.
        cost = estimate(ws, make_spec(ws, agents[0], **recipe)) * len(agents) if agents else 0.0
        st.caption(f"{len(agents)} agents, {len(agents) * count} images" + (f", estimated ${cost:.2f}" if cost else ""))
        if st.button("Start batch", type="primary", key="batch_start", icon=":material/play_arrow:", disabled=not agents):
            batch_id = create_batch(ws, agents, recipe, name=name, auto_approve=auto,
                                    selection={"how": how, "category": category, "slugs": slugs}, actor=actor)
            ws.jobs.submit_batch(batch_id)
            state["batch_id"] = batch_id
            st.rerun()
    except ImagegenError as exc:
        st.warning(str(exc))

batches = list_batches(ws)
if not batches:
    st.info("No batches yet.", icon=":material/stacks:")
    st.stop()
ids = [b.id for b in batches]
labels = {b.id: f"#{b.id} {b.name} · {b.status.value}" for b in batches}
batch_id = st.selectbox("Batch", ids, format_func=labels.get, index=ids.index(state["batch_id"]) if state.get("batch_id") in ids else 0, key="batch_pick")
running = get_batch(ws, batch_id).status is BatchStatus.RUNNING


def batch_view() -> None:
    batch = get_batch(ws, batch_id)
    items = batch_generations(ws, batch_id)
    done = sum(i.status is not BatchItemStatus.PENDING for i, _ in items)
    st.progress(done / max(1, len(items)), text=f"{done} of {len(items)} agents · {batch.status.value}")
    c1, c2, c3 = st.columns(3)
    if batch.status is BatchStatus.RUNNING and c1.button("Pause", key="batch_pause", icon=":material/pause:"):
        set_batch_status(ws, batch_id, BatchStatus.PAUSED)
    if batch.status is BatchStatus.PAUSED and c1.button("Resume", key="batch_resume", icon=":material/play_arrow:"):
        set_batch_status(ws, batch_id, BatchStatus.RUNNING)
        ws.jobs.submit_batch(batch_id)
        st.rerun()
    if batch.status in (BatchStatus.RUNNING, BatchStatus.PAUSED) and c2.button("Cancel", key="batch_cancel", icon=":material/stop:"):
        set_batch_status(ws, batch_id, BatchStatus.CANCELED)
    for item, gen in items:
        with st.container(border=True):
            agent = item.agent
            head = st.columns([3, 1])
            head[0].markdown(f"**{literal(agent.name)}** · {item.status.value}" + (f" · {item.error}" if item.error else ""))
            if ws.get_agent(agent.slug).current_thumbnail:
                head[1].badge("has a thumbnail", color="green", icon=":material/check:")
            if gen is None:
                continue
            cols = st.columns(4)
            for i, cand in enumerate(gen.candidates[:8]):
                with cols[i % 4]:
                    if cand.image_key:
                        st.image(thumbnail(cand.image_key, 256), width="stretch")
                        if st.button("Approve", key=f"batch_approve_{cand.id}", width="stretch"):
                            try:
                                approve_candidate(ws, cand.id, actor=actor)
                                st.toast(f"Approved for {literal(agent.name)}")
                            except ImagegenError as exc:
                                st.error(str(exc))
                    else:
                        status_badge(cand.status)
    if state.get("batch_was_running") and batch.status is not BatchStatus.RUNNING:
        state["batch_was_running"] = False
        st.rerun()
    state["batch_was_running"] = batch.status is BatchStatus.RUNNING


st.fragment(batch_view, run_every=1.0 if running else None)()
