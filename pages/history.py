"""History: every generation of an agent with its recipe, comparisons, and the approvals trail."""

from __future__ import annotations

import streamlit as st

from imagegen.costs import spend_by_day
from imagegen.errors import ImagegenError
from imagegen.history import revert_to
from imagegen.listings import REVIEWS, approvals_page, history_page
from imagegen.providers import PROVIDERS
from imagegen.publish import publications
from imagegen.records import CandidateStatus
from ui.agent_search import pick_agent
from ui.auth import require_page
from ui.publishing import publish_state
from ui.recipe_state import load_recipe
from ui.resources import thumbnail_url, workspace
from ui.text import literal
from ui.widgets import pager, review_matches, status_badge, verdict_badge

actor = require_page("viewer")
ws = workspace()
state = st.session_state

PAGE = 20  # generations per page
TRAIL = 10  # approvals shown


def _first_page() -> None:
    state["history_offset"] = 0


st.title("History")
slug = pick_agent(ws, "history_agent", default=state.get("agent_slug"))  # the studio's agent first
if slug is None:
    st.info("No agent matches. Clear the search.")
    st.stop()

filters = st.columns(4)
provider = filters[0].selectbox("Provider", ["any", *(p.name for p in PROVIDERS)], key="history_provider", on_change=_first_page)
status = filters[1].selectbox("Candidate status", ["any", *(s.value for s in CandidateStatus)], key="history_status", on_change=_first_page)
review = filters[2].selectbox("Review", ["any", *REVIEWS], key="history_review", on_change=_first_page)
approved_only = filters[3].toggle("Approved only", key="history_approved", on_change=_first_page,
                                 help="Only generations with an approved candidate.")
if state.get("history_offset_agent") != slug:  # another agent opens on its newest generations
    state["history_offset_agent"], state["history_offset"] = slug, 0

with ws.session() as s:  # one page of each, filtered and counted in SQL
    agent = ws.get_agent(slug, session=s)
    page = history_page(
        s, agent.id, provider=None if provider == "any" else provider, status=None if status == "any" else CandidateStatus(status),
        review=None if review == "any" else review, approved_only=approved_only, offset=state.get("history_offset", 0), limit=PAGE,
    )
    trail = approvals_page(s, agent.id, limit=TRAIL)
generations = page.items

trail_col, compare_col = st.columns([1, 1], gap="large")
with trail_col:
    st.subheader("Approvals")
    if not trail.items:
        st.caption("Nothing approved yet.")
    elif trail.has_next:
        st.caption(f"The latest {len(trail.items)} of {trail.total:,}.")
    current = agent.current_thumbnail
    # The newest approval of the current upload is the current one (a revert repeats an older upload).
    current_id = next((a.id for a in trail.items if a.upload_key == current), None)
    published = publications(ws, [a.id for a in trail.items])
    for approval in trail.items:
        with st.container(border=True):
            cols = st.columns([1, 2])
            cols[0].image(thumbnail_url(approval.upload_key, 256), width="stretch")
            cols[1].markdown(
                f"**#{approval.id}** by {approval.approved_by}, {approval.approved_at:%Y-%m-%d %H:%M}  \n"
                f"candidate #{approval.candidate_id}" + (f" · {approval.size_label}" if approval.size_label else "")
                + (f" · {approval.note}" if approval.note else "")
                + ("  \n:green-badge[current]" if approval.id == current_id else "")
                + ("  \nreplaced an earlier thumbnail" if approval.previous_thumbnail else "")
            )
            with cols[1]:
                publish_state(approval, actor, slug=slug, known=published)
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

st.subheader(f"{page.total:,}{'' if page.total_exact else '+'} generation{'s' if page.total != 1 else ''}")
if page.has_next or page.has_previous:
    st.caption(f"{page.offset + 1:,}-{page.offset + len(generations):,}, newest first")
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

pager(page, "history", lambda offset: state.__setitem__("history_offset", offset), back="Newer", forward="Older")

with st.expander("Spend by day (all agents)"):
    days = spend_by_day(ws)
    budget = ws.settings.daily_budget
    if days:
        st.dataframe([{"day": d, "spent (USD)": round(v, 2)} for d, v in days], hide_index=True)
    st.caption("Only paid providers cost anything; the local renderer is free."
               + (f" Daily budget: ${budget:.2f}." if budget is not None else " No daily budget is set (IMAGEGEN_DAILY_BUDGET)."))
