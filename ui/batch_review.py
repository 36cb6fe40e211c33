"""Reviewing a batch: each agent's candidates with approve, star, reject, a large view,
reviewed/unreviewed filters, and "approve the selected" with one confirmation."""

from __future__ import annotations

import streamlit as st

from imagegen.approval import approve_candidate
from imagegen.batch import set_batch_status
from imagegen.errors import ImagegenError
from imagegen.listings import BATCH_REVIEWS, batch_items_page, batch_summary
from imagegen.records import BatchStatus, Candidate, Verdict
from imagegen.review import approved_candidates, set_verdict
from imagegen.workspace import Workspace
from ui.resources import LARGE, thumbnail_url
from ui.auth import current_actor
from ui.text import literal
from ui.widgets import pager, review_keys, status_badge

SHOW = ("All", *(review.capitalize() for review in BATCH_REVIEWS))  # the Show control: All, or a filter in SQL
CARDS = 20  # agents a page; the Show filter is applied in SQL before paging


def _approve(ws: Workspace, candidate_id: int, name: str) -> None:
    try:
        approve_candidate(ws, candidate_id, actor=current_actor())
        st.session_state["batch_message"] = ("success", f"Approved #{candidate_id} for {name}.")
    except ImagegenError as exc:
        st.session_state["batch_message"] = ("error", str(exc))


def _verdict(ws: Workspace, candidate: Candidate, verdict: Verdict) -> None:
    set_verdict(ws, candidate.id, None if candidate.verdict is verdict else verdict, candidate.review_note, actor=current_actor())


def _close_dialog() -> None:
    st.session_state.pop("batch_dialog", None)


def _turn(offset: int) -> None:
    st.session_state["batch_cards_offset"] = max(0, offset)


def _selected() -> list[int]:
    return [int(k.removeprefix("batch_select_")) for k, v in st.session_state.items() if k.startswith("batch_select_") and v]


@st.dialog("Approve the selected?", on_dismiss=_close_dialog)
def confirm_bulk(ws: Workspace, picks: dict[int, str]) -> None:
    names = ", ".join(literal(n) for n in sorted(set(picks.values())))
    st.write(f"{len(picks)} candidate{'s' if len(picks) != 1 else ''} become their agents' thumbnails: {names}.")
    if st.button("Approve all of them", type="primary", key="batch_bulk_confirm", icon=":material/done_all:"):
        failed = []
        for cid in picks:
            try:
                approve_candidate(ws, cid, actor=current_actor())
            except ImagegenError as exc:
                failed.append(f"#{cid}: {exc}")
        st.session_state["batch_message"] = ("error", "Not approved: " + "; ".join(failed)) if failed else (
            "success", f"Approved {len(picks)} candidate{'s' if len(picks) != 1 else ''}.")
        _close_dialog()
        st.rerun()


@st.dialog("Candidate", width="large", on_dismiss=_close_dialog)
def large_view(ws: Workspace, candidate_id: int, name: str) -> None:
    [cand] = ws.candidates([candidate_id])
    st.image(thumbnail_url(cand.image_key, LARGE), width="stretch")
    st.caption(f"{literal(name)} · candidate #{cand.id} · seed {cand.seed} · {cand.width}x{cand.height}")


def _move_focus(ids: list[int], delta: int) -> None:
    state = st.session_state
    current = state.get("batch_focus")
    position = ids.index(current) if current in ids else 0
    state["batch_focus"] = ids[(position + delta) % len(ids)]


def keyboard_bar(ws: Workspace, cards: list[tuple[Candidate, str]]) -> int | None:
    """Review from the keyboard: ← → move the focus across the candidates shown, A approves,
    S stars, X rejects the focused one. Returns the focused candidate id."""
    if not cards:
        return None
    ids = [c.id for c, _ in cards]
    # Only a key or button sets the focus: until then it is the first card shown, so review starts
    # there even when a later candidate of a running batch landed first.
    focused = st.session_state.get("batch_focus")
    candidate, name = cards[ids.index(focused) if focused in ids else 0]
    bar = st.columns([3, 1, 1, 1, 1, 1], vertical_alignment="center")
    bar[0].caption(f"Focus: {literal(name)}, #{candidate.id} ({ids.index(candidate.id) + 1} of {len(ids)}) · keys ← → A S X")
    bar[1].button("Previous", key="kb_prev", icon=":material/arrow_back:", on_click=_move_focus, args=(ids, -1), width="stretch")
    bar[2].button("Next", key="kb_next", icon=":material/arrow_forward:", on_click=_move_focus, args=(ids, 1), width="stretch")
    bar[3].button("Approve", key="kb_approve", icon=":material/check:", on_click=_approve, args=(ws, candidate.id, name), width="stretch")
    bar[4].button("Star", key="kb_star", icon=":material/star:", on_click=_verdict, args=(ws, candidate, Verdict.STARRED), width="stretch")
    bar[5].button("Reject", key="kb_reject", icon=":material/thumb_down:", on_click=_verdict, args=(ws, candidate, Verdict.REJECTED), width="stretch")
    review_keys()
    return candidate.id


def batch_view(ws: Workspace, batch_id: int, page_status: BatchStatus) -> None:
    """The batch's progress and review cards. `page_status` is the status the page's last full run
    showed (a fragment reruns with the arguments of that run): when the batch has moved on since,
    the whole page reruns, so the picker's label and the polling follow."""
    state = st.session_state
    if state.get("batch_cards_batch") != batch_id:  # another batch opens on its first agents
        state["batch_cards_batch"], state["batch_cards_offset"] = batch_id, 0
    show = state.get("batch_show")  # the Show control below, as last set: it filters the SQL query
    review = None if show in (None, "All") else show.lower()
    with ws.session() as s:  # progress counted and one page of agents read in SQL, whatever the batch's size
        summary = batch_summary(s, batch_id)
        if summary is None:
            st.warning(f"Batch #{batch_id} no longer exists.")
            return
        page = batch_items_page(s, batch_id, review=review, offset=state["batch_cards_offset"], limit=CARDS)
        if not page.items and page.offset:  # the filter left fewer agents than this page's start
            state["batch_cards_offset"] = 0
            page = batch_items_page(s, batch_id, review=review, limit=CARDS)
    batch = summary.batch
    st.progress(summary.finished / max(1, summary.total), text=f"{summary.finished} of {summary.total} agents · {batch.status.value}")
    c1, c2, c3 = st.columns(3)
    if batch.status is BatchStatus.RUNNING and c1.button("Pause", key="batch_pause", icon=":material/pause:"):
        set_batch_status(ws, batch_id, BatchStatus.PAUSED)
        st.rerun()  # the batch picker's label says "paused" at once
    if batch.status is BatchStatus.PAUSED and c1.button("Resume", key="batch_resume", icon=":material/play_arrow:"):
        set_batch_status(ws, batch_id, BatchStatus.RUNNING)
        ws.jobs.submit_batch(batch_id)
        st.rerun()
    if batch.status in (BatchStatus.RUNNING, BatchStatus.PAUSED) and c2.button("Cancel", key="batch_cancel", icon=":material/stop:"):
        set_batch_status(ws, batch_id, BatchStatus.CANCELED)
        st.rerun()
    message = state.pop("batch_message", None)
    if message:
        getattr(st, message[0])(message[1])

    candidate_ids = [c.id for _, gen in page.items if gen for c in gen.candidates]
    approved = approved_candidates(ws, candidate_ids)
    st.segmented_control("Show", SHOW, default="All", key="batch_show", on_change=_turn, args=(0,))
    picks = {cid: state.get(f"batch_name_{cid}", "") for cid in _selected() if cid in candidate_ids and cid not in approved}
    if c3.button(f"Approve the selected ({len(picks)})", key="batch_bulk", icon=":material/done_all:", disabled=not picks):
        by_agent = {}
        for cid, name in picks.items():
            by_agent.setdefault(name, []).append(cid)
        twice = [name for name, ids in by_agent.items() if len(ids) > 1]
        if twice:
            st.warning("Select one candidate per agent: " + ", ".join(twice) + " has more than one.")
        else:
            state["batch_dialog"], state["batch_app_rerun"] = ("bulk", None), True
    if page.has_next or page.has_previous:
        st.caption(f"Agents {page.offset + 1:,}-{page.offset + len(page.items):,} of {page.total:,}{'' if page.total_exact else '+'}"
                   + (f" ({review})" if review else ""))
    elif review and not page.items:
        st.caption(f"No {review} agents in this batch.")
    visible = [(item, gen, gen is not None and any(c.id in approved or c.verdict for c in gen.candidates)) for item, gen in page.items]
    focus = keyboard_bar(ws, [(c, item.agent.name) for item, gen, _ in visible if gen for c in gen.candidates[:8] if c.image_key])
    for item, gen, reviewed in visible:
        agent = item.agent
        with st.container(border=True):
            head = st.columns([3, 1])
            head[0].markdown(f"**{literal(agent.name)}** · {item.status.value}" + (f" · {literal(item.error)}" if item.error else ""))
            if reviewed:
                head[1].badge("reviewed", color="green", icon=":material/check:")
            if gen is None:
                continue
            cols = st.columns(4)
            for i, cand in enumerate(gen.candidates[:8]):
                with cols[i % 4]:
                    if not cand.image_key:
                        status_badge(cand.status)
                        if cand.error:  # held back by a Pause, failed, blocked: why, in one line
                            st.caption(literal(cand.error))
                        continue
                    st.image(thumbnail_url(cand.image_key, 320), width="stretch")
                    if cand.id == focus:
                        st.badge("Keyboard focus", color="violet", icon=":material/keyboard:")
                    if approved.get(cand.id):
                        st.badge("Approved · current thumbnail", color="green", icon=":material/verified:")
                    elif cand.id in approved:  # a later approval of its agent replaced it
                        st.badge("Approved before", color="gray", icon=":material/history:")
                    elif cand.verdict:
                        st.badge(cand.verdict.value.capitalize(), color="yellow" if cand.verdict is Verdict.STARRED else "gray")
                    state[f"batch_name_{cand.id}"] = agent.name
                    if cand.id not in approved:  # an approved one is done: nothing to select
                        st.checkbox("Select", key=f"batch_select_{cand.id}")
                    b = st.columns(2)
                    b[0].button("Approve", key=f"batch_approve_{cand.id}", width="stretch", on_click=_approve, args=(ws, cand.id, agent.name))
                    if b[1].button("View", key=f"batch_view_{cand.id}", width="stretch"):
                        state["batch_dialog"], state["batch_app_rerun"] = ("view", (cand.id, agent.name)), True
                    s = st.columns(2)
                    s[0].button("Star", key=f"batch_star_{cand.id}", width="stretch", on_click=_verdict, args=(ws, cand, Verdict.STARRED))
                    s[1].button("Reject", key=f"batch_reject_{cand.id}", width="stretch", on_click=_verdict, args=(ws, cand, Verdict.REJECTED))
    pager(page, "batch_cards", _turn)
    if batch.status is not page_status or state.pop("batch_app_rerun", False):
        st.rerun()  # a changed status relabels the picker; dialogs open from the page, not this fragment


def open_batch_dialog(ws: Workspace) -> None:
    # A dialog stays open across reruns until it finishes or is dismissed.
    kind, arg = st.session_state.get("batch_dialog", (None, None))
    if kind == "view":
        large_view(ws, *arg)
    elif kind == "bulk":
        selected = _selected()
        done = approved_candidates(ws, selected)
        picks = {cid: st.session_state.get(f"batch_name_{cid}", "") for cid in selected if cid not in done}
        confirm_bulk(ws, picks)
