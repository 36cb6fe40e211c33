"""History: every generation of an agent with its recipe, comparisons, and the approvals trail."""

from __future__ import annotations

import streamlit as st

from imagegen.catalog import find_agents
from imagegen.costs import spend_by_day
from imagegen.errors import ImagegenError
from imagegen.history import agent_history, approvals, revert_to
from imagegen.providers import PROVIDERS
from imagegen.records import CandidateStatus
from ui.auth import require_page
from ui.publishing import publish_state
from ui.recipe_state import load_recipe
from ui.resources import thumbnail_url, workspace
from ui.text import literal
from ui.widgets import review_matches, status_badge, verdict_badge

actor = require_page("viewer")
ws = workspace()
state = st.session_state

st.title("History")
with ws.session() as s:
    agents = {a.slug: a for a in find_agents(s)}
slug = st.selectbox("Agent", list(agents), format_func=lambda s: agents[s].name,
                    index=list(agents).index(state["agent_slug"]) if state.get("agent_slug") in agents else 0, key="history_agent")

filters = st.columns(4)
provider = filters[0].selectbox("Provider", ["any", *(p.name for p in PROVIDERS)], key="history_provider")
status = filters[1].selectbox("Candidate status", ["any", *(s.value for s in CandidateStatus)], key="history_status")
review = filters[2].selectbox("Review", ["any", "starred", "rejected", "not rejected"], key="history_review")
approved_only = filters[3].toggle("Only generations with an approval", key="history_approved")

generations = agent_history(
    ws, slug, provider=None if provider == "any" else provider,
    status=None if status == "any" else CandidateStatus(status), approved_only=approved_only,
)
generations = [g for g in generations if any(review_matches(c, review) for c in g.candidates)]

trail_col, compare_col = st.columns([1, 1], gap="large")
with trail_col:
    st.subheader("Approvals")
    trail = approvals(ws, slug)
    if not trail:
        st.caption("Nothing approved yet.")
    current = agents[slug].current_thumbnail
    for approval in trail:
        with st.container(border=True):
            cols = st.columns([1, 2])
            cols[0].image(thumbnail_url(approval.upload_key, 256), width="stretch")
            cols[1].markdown(
                f"**#{approval.id}** by {approval.approved_by}, {approval.approved_at:%Y-%m-%d %H:%M}  \n"
                f"candidate #{approval.candidate_id}" + (f" · {approval.note}" if approval.note else "")
                + ("  \n:green-badge[current]" if approval.upload_key == current else "")
                + ("  \nreplaced an earlier thumbnail" if approval.previous_thumbnail else "")
            )
            with cols[1]:
                publish_state(approval, actor)
            if actor.can("revert") and approval.upload_key != current and cols[1].button("Revert to this", key=f"revert_{approval.id}", icon=":material/undo:"):
                try:
                    revert_to(ws, approval.id, actor=actor)
                    st.rerun()
                except ImagegenError as exc:
                    st.error(str(exc))

with compare_col:
    st.subheader("Compare two candidates")
    finished = {c.id: (c, g.recipe) for g in generations for c in g.candidates if c.image_key}
    labels = {cid: f"#{cid} · seed {c.seed}" for cid, (c, _) in finished.items()}
    picked = st.multiselect("Pick two", list(labels), format_func=labels.get, max_selections=2, key="history_compare")
    if len(picked) == 2:
        for col, cid in zip(st.columns(2), picked):
            cand, recipe = finished[cid]
            col.image(thumbnail_url(cand.image_key, 640), width="stretch")
            col.caption(f"{labels[cid]} · {recipe.provider} · {literal(recipe.template)}")

st.subheader(f"{len(generations)} generation{'s' if len(generations) != 1 else ''}")
for gen in generations:
    recipe = gen.recipe
    palette = recipe.palette.name if recipe.palette else "none"
    with st.expander(
        f"#{gen.id} · {gen.created_at:%Y-%m-%d %H:%M} · {recipe.provider}{' ' + recipe.model if recipe.model else ''} · "
        f"{literal(recipe.template)} · {palette} · {recipe.aspect_ratio} · seed {recipe.seed} · {gen.status.value}"
        + (f" · ${gen.cost_usd:.2f}" if gen.cost_usd else ""),
        expanded=gen is generations[0],
    ):
        st.code(recipe.prompt, language=None, wrap_lines=True)
        cols = st.columns(4)
        for i, cand in enumerate(c for c in gen.candidates if review_matches(c, review)):
            with cols[i % 4]:
                if cand.image_key:
                    st.image(thumbnail_url(cand.image_key), width="stretch")
                status_badge(cand.status)
                verdict_badge(cand)
                st.caption(f"#{cand.id} · seed {cand.seed}" + (f" · {cand.error}" if cand.error else "")
                           + (f" · note: {literal(cand.review_note)}" if cand.review_note else ""))
        if st.button("Use this recipe in the studio", key=f"use_{gen.id}", icon=":material/replay:"):
            load_recipe(state, gen.spec, slug)
            st.switch_page("pages/studio.py")

with st.expander("Spend by day (all agents)"):
    days = spend_by_day(ws)
    budget = ws.settings.daily_budget
    if days:
        st.dataframe([{"day": d, "spent (USD)": round(v, 2)} for d, v in days], hide_index=True)
    st.caption("Only paid providers cost anything; the local renderer is free."
               + (f" Daily budget: ${budget:.2f}." if budget is not None else " No daily budget is set (IMAGEGEN_DAILY_BUDGET)."))
