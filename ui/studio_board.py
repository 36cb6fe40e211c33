"""The studio's board: the candidates of one generation, as they land, and the review tools
(lightbox, compare, star and reject with a note, approve, reroll, upscale).

A board is one generation's candidates, kept per agent in `state["boards"]`. The studio opens
the agent's own latest studio board; boards from a batch, an experiment or the CLI are one
pick away and labelled, and never replace it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import streamlit as st

from imagegen.approval import approve_candidate
from imagegen.errors import ImagegenError
from imagegen.generation import reroll_candidate, upscale_candidate, vary_candidate, vary_refusal
from imagegen.providers import has_key, provider_class
from imagegen.records import Agent, Candidate, Verdict
from imagegen.review import (
    add_own_image,
    board_candidates,
    generation_of_agent,
    is_upload,
    other_runs,
    set_verdict,
    store_neighbours,
    studio_board,
)
from imagegen.workspace import Workspace
from ui.resources import CARD, LARGE, thumbnail_url
from ui.auth import current_actor
from ui.text import literal
from ui.widgets import review_keys, status_badge

PER_ROW = 4
FAST_POLL = 0.1  # seconds between grid refreshes while candidates are running
IDLE_POLL = 3.0  # how often an idle tab looks for a newer board made in another tab


@dataclass
class Board:
    generation: int | None = None
    candidates: list[int] = field(default_factory=list)


def set_board(slug: str, generation_id: int | None, candidate_ids: list[int], *, latest: bool = False) -> None:
    state = st.session_state
    state.setdefault("boards", {})[slug] = {"generation": generation_id, "candidates": list(candidate_ids)}
    if latest:  # this tab made it: not "newer results from elsewhere"
        state.setdefault("seen_latest", {})[slug] = generation_id


def current_board(ws: Workspace, slug: str) -> Board:
    """The board to show: a linked generation, else the one on screen, else the agent's latest
    studio board. A newer studio board (made in another tab) replaces the one on screen."""
    state = st.session_state
    boards, seen = state.setdefault("boards", {}), state.setdefault("seen_latest", {})
    latest = studio_board(ws, slug)
    linked = state.get("linked_generation", {}).pop(slug, None)
    if linked is not None:
        try:
            gen = generation_of_agent(ws, slug, linked)
            set_board(slug, *board_candidates(ws, gen.id))
            seen[slug] = latest
        except ImagegenError as exc:
            state["link_problem"] = str(exc)
    if slug not in boards or (latest is not None and latest != seen.get(slug)):
        set_board(slug, *(board_candidates(ws, latest) if latest else (None, [])), latest=True)
    return Board(**boards[slug])


def _open(kind: str, candidate_id: int | None = None) -> None:
    st.session_state["dialog"] = (kind, candidate_id)
    st.session_state["app_rerun"] = True  # dialogs open from the page, outside the grid's fragment


def _close_dialog() -> None:
    st.session_state.pop("dialog", None)


def _toggle_verdict(ws: Workspace, candidate: Candidate, verdict: Verdict) -> None:
    note = st.session_state.get(f"note_{candidate.id}", candidate.review_note)
    set_verdict(ws, candidate.id, None if candidate.verdict is verdict else verdict, note, actor=current_actor())


def _save_note(ws: Workspace, candidate_id: int) -> None:
    candidate = ws.get_candidate(candidate_id)
    set_verdict(ws, candidate_id, candidate.verdict, st.session_state.get(f"note_{candidate_id}"), actor=current_actor())


def _start(ws: Workspace, slug: str, make) -> bool:
    """Record a generation with `make()` (one line on screen if it is refused), run it, and show
    the board it is on, which is now the agent's newest: a reroll in its card's place, an
    upscale after the board's cards, a variation as a board of its own."""
    state = st.session_state
    try:
        generation_id = make()
    except ImagegenError as exc:
        state["board_message"] = str(exc)
        return False
    ws.jobs.submit(generation_id)
    set_board(slug, *board_candidates(ws, generation_id), latest=True)
    state["app_rerun"] = True  # the page turns on the fast poll for the new cards
    return True


def _reroll(ws: Workspace, slug: str, candidate_id: int) -> bool:
    return _start(ws, slug, lambda: ws.get_candidate(reroll_candidate(ws, candidate_id, actor=current_actor())).generation_id)


def _upscale(ws: Workspace, slug: str, candidate_id: int) -> bool:
    return _start(ws, slug, lambda: upscale_candidate(ws, candidate_id, actor=current_actor()))


def _vary(ws: Workspace, slug: str, candidate_id: int) -> bool:
    return _start(ws, slug, lambda: vary_candidate(ws, candidate_id, actor=current_actor()))


def vary_button(ws: Workspace, slug: str, candidate: Candidate, key: str) -> bool:
    """"Vary", off with the reason where the candidate's provider or model cannot vary."""
    refusal = vary_refusal(candidate.generation.recipe)
    return st.button("Vary", key=key, icon=":material/auto_awesome:", width="stretch", disabled=refusal is not None,
                     help=refusal or "A new set near this one, as many as its recipe made.")


def reroll_refusal(ws: Workspace, candidate: Candidate) -> str | None:
    """Why the candidate can't be rerolled, from its own recipe: a local card rerolls while a
    no-key provider is picked above, and a card whose provider has no key never offers a
    reroll that can only fail."""
    recipe = candidate.generation.recipe
    if is_upload(recipe):
        return "Your own image has no recipe to reroll."
    return None if has_key(provider_class(recipe.provider), ws.settings) else "Its provider has no key set."


def reroll_button(ws: Workspace, candidate: Candidate, key: str, **kwargs) -> bool:
    refusal = reroll_refusal(ws, candidate)
    return st.button("Reroll", key=key, icon=":material/casino:", width="stretch", disabled=refusal is not None,
                     help=refusal, **kwargs)


def _placeholder(aspect: str) -> None:
    """The card's image, at its shape, until it lands. Drawn as an image: the browser fetches
    the image element's code the first time one is shown (measured: 0.25 to 0.45 s), and this
    way it does so while the candidates render, not after the first one has landed."""
    w, h = aspect.split("x")
    st.image(f'<svg viewBox="0 0 {w} {h}"><rect width="{w}" height="{h}" fill="#1C0C47"/></svg>', width="stretch")


def candidate_card(ws: Workspace, slug: str, candidate: Candidate) -> None:
    cid = candidate.id
    with st.container(border=True):
        if candidate.image_key:
            st.image(thumbnail_url(candidate.image_key, CARD), width="stretch")
        else:
            _placeholder(candidate.generation.recipe.aspect_ratio)
        status_badge(candidate.status)
        if candidate.verdict is Verdict.STARRED:
            st.badge("Starred", color="yellow", icon=":material/star:")
        recipe = candidate.generation.recipe
        parent = recipe.options.get("vary_of")
        st.caption(f"#{cid} · " + ("your own image" if is_upload(recipe) else f"seed {candidate.seed}")
                   + (f" · a variation of #{parent}" if parent else ""))
        if candidate.error:
            st.caption(candidate.error)
        if candidate.review_note:
            st.caption(f"Note: {literal(candidate.review_note)}")
        if not candidate.status.finished:
            return
        if candidate.image_key:
            st.button("Approve", key=f"approve_{cid}", type="primary", icon=":material/check:", width="stretch",
                      on_click=_open, args=("approve", cid))
        # Rows that wrap rather than cut a label short ("V…") when a card is narrow.
        with st.container(horizontal=True, gap="small"):
            if candidate.image_key:
                st.button("View", key=f"view_{cid}", icon=":material/zoom_in:", width="stretch", on_click=_open, args=("view", cid))
            reroll_button(ws, candidate, f"reroll_{cid}", on_click=_reroll, args=(ws, slug, cid))
        starred, rejected = candidate.verdict is Verdict.STARRED, candidate.verdict is Verdict.REJECTED
        with st.container(horizontal=True, gap="small"):
            st.button("Unstar" if starred else "Star", key=f"star_{cid}", icon=":material/star:", width="stretch",
                      on_click=_toggle_verdict, args=(ws, candidate, Verdict.STARRED))
            st.button("Restore" if rejected else "Reject", key=f"reject_{cid}", icon=":material/thumb_down:", width="stretch",
                      on_click=_toggle_verdict, args=(ws, candidate, Verdict.REJECTED))
        with st.popover("Note", icon=":material/edit_note:", width="stretch"):
            st.text_input("A note on this candidate", value=candidate.review_note or "", key=f"note_{cid}", max_chars=500)
            st.button("Save note", key=f"save_note_{cid}", on_click=_save_note, args=(ws, cid))
        if candidate.image_key:
            if vary_button(ws, slug, candidate, f"vary_{cid}"):
                _vary(ws, slug, cid)
            st.checkbox("Compare", key=f"compare_{cid}")
            if provider_class(candidate.generation.recipe.provider).supports_upscale:
                st.button("Upscale", key=f"upscale_{cid}", icon=":material/zoom_out_map:", width="stretch",
                          on_click=_upscale, args=(ws, slug, cid))


def _cards(ws: Workspace, slug: str, candidates: list[Candidate]) -> None:
    for start in range(0, len(candidates), PER_ROW):
        for offset, col in enumerate(st.columns(PER_ROW)):
            if start + offset < len(candidates):
                with col:
                    candidate_card(ws, slug, candidates[start + offset])


def compare_picks(candidates: list[Candidate]) -> list[int]:
    return [c.id for c in candidates if c.image_key and st.session_state.get(f"compare_{c.id}")]


def candidate_grid(ws: Workspace, agent: Agent, busy: bool = False) -> None:
    state = st.session_state
    slug = agent.slug
    board = Board(**state["boards"][slug])
    candidates = ws.candidates(board.candidates)
    message = state.pop("board_message", None)
    if message:
        st.error(message, icon=":material/error:")
    if not candidates:
        st.info("Pick a recipe and press Generate. Candidates appear here as they land.", icon=":material/grid_view:")
        return
    running = [c for c in candidates if not c.status.finished]
    if running:
        done = len(candidates) - len(running)
        bar, cancel = st.columns([5, 1], vertical_alignment="center")
        bar.progress(done / len(candidates), text=f"{done} of {len(candidates)} candidates ready")
        if cancel.button("Cancel", key="cancel", icon=":material/stop_circle:"):
            for generation_id in {c.generation_id for c in running}:
                ws.jobs.cancel(generation_id)
    picks = compare_picks(candidates)
    with_current = bool(state.get("compare_current")) and bool(agent.current_thumbnail)
    chosen = len(picks) + with_current
    if chosen:
        st.button(f"Compare {chosen} side by side", key="compare_open", icon=":material/compare:",
                  disabled=not 2 <= chosen <= 4, on_click=_open, args=("compare",),
                  help="Tick two to four candidates (or the current thumbnail).")
    shown = [c for c in candidates if c.verdict is not Verdict.REJECTED]
    rejected = [c for c in candidates if c.verdict is Verdict.REJECTED]
    _cards(ws, slug, shown)
    if rejected:  # folded away, still one click from a second look
        with st.expander(f"Rejected ({len(rejected)})"):
            _cards(ws, slug, rejected)
    was_running, state["grid_was_running"] = state.get("grid_was_running"), bool(running)
    # A full rerun re-enables Generate once everything has landed, and opens a dialog or
    # starts the fast poll after a click on a card (which reruns only this fragment).
    # It waits for the poll's next tick: a rerun now would drop this run's output, so the last
    # card to land would show only after the whole page ran again (0.7-0.9 s, measured).
    if state.pop("grid_landed", False) or state.pop("app_rerun", False):
        st.rerun()
    if was_running and not running and busy:  # the page was drawn busy, so the poll ticks once more
        state["grid_landed"] = True


def _watch_for_newer(ws: Workspace, slug: str) -> None:
    """An idle tab picks up a board made in another tab."""
    latest = studio_board(ws, slug)
    if latest is not None and latest != st.session_state.get("seen_latest", {}).get(slug):
        st.rerun()


def _add_own_image(ws: Workspace, slug: str) -> None:
    state = st.session_state
    upload = state.get("own_image")
    if upload is None:
        return
    try:
        candidate_id = add_own_image(ws, slug, upload.getvalue(), upload.name, board=state["boards"][slug]["generation"],
                                     actor=current_actor())
    except ImagegenError as exc:
        state["board_message"] = f"That file was not added: {exc}"
        return
    # It joined the board on screen (or started one), which is now the agent's newest board.
    set_board(slug, *board_candidates(ws, ws.get_candidate(candidate_id).generation_id), latest=True)


def board_section(ws: Workspace, agent: Agent, board: Board, busy: bool) -> None:
    slug = agent.slug
    head, pick = st.columns([2, 3], vertical_alignment="bottom")
    head.subheader("Candidates")
    runs = other_runs(ws, slug)
    if runs:
        own = studio_board(ws, slug)
        options = {"studio": (own, board_candidates(ws, own)[1] if own else [])}
        labels = {"studio": f"Your studio board (#{own})" if own else "Your studio board (empty)"}
        for run in runs:
            key = f"run-{run.id}"
            options[key] = (run.id, None)
            labels[key] = run.label
        current = next((k for k, (g, _) in options.items() if g == board.generation), "studio")
        st.session_state["board_pick"] = current

        def resolve(choice: str) -> None:
            gen_id, ids = options[choice]
            if ids is None:
                gen_id, ids = board_candidates(ws, gen_id)
            set_board(slug, gen_id, ids)

        pick.selectbox("Board", list(options), format_func=labels.__getitem__, key="board_pick",
                       on_change=lambda: resolve(st.session_state["board_pick"]),
                       help="Runs from a batch, an experiment or the CLI never replace your studio board.")
        if current != "studio":
            label = labels[current]
            st.caption(f"Showing {label[:1].lower()}{label[1:]}, not your studio board.")
    with st.expander("Use your own image"):
        st.file_uploader("Add a file as a candidate (checked like provider images)", type=["png", "jpg", "jpeg", "webp"],
                         key="own_image", on_change=_add_own_image, args=(ws, slug))
    st.fragment(candidate_grid, run_every=FAST_POLL if busy else None)(ws, agent, busy)
    if not busy:
        st.fragment(_watch_for_newer, run_every=IDLE_POLL)(ws, slug)


# --- dialogs ------------------------------------------------------------------------------


def _board_images(ws: Workspace, slug: str) -> list[Candidate]:
    board = st.session_state["boards"][slug]
    return [c for c in ws.candidates(board["candidates"]) if c.image_key]


def _step(ws: Workspace, slug: str, delta: int) -> None:
    ids = [c.id for c in _board_images(ws, slug)]
    current = st.session_state["dialog"][1]
    if current in ids:
        st.session_state["dialog"] = ("view", ids[(ids.index(current) + delta) % len(ids)])


def _lightbox_verdict(ws: Workspace, verdict: Verdict) -> None:
    _toggle_verdict(ws, ws.get_candidate(st.session_state["dialog"][1]), verdict)


@st.dialog("Candidate", width="large", on_dismiss=_close_dialog)
def lightbox(ws: Workspace, agent: Agent) -> None:
    """Large view with next and previous, download, the full recipe and the prompt the provider
    used, and the card's actions. Keys: ← → to move, A approve, S star, X reject."""
    [candidate] = ws.candidates([st.session_state["dialog"][1]])
    images = _board_images(ws, agent.slug)
    position = next((i for i, c in enumerate(images) if c.id == candidate.id), 0)
    st.image(thumbnail_url(candidate.image_key, LARGE), width=fit_width(candidate.width, candidate.height))
    status = {Verdict.STARRED: " · ★ starred", Verdict.REJECTED: " · rejected"}.get(candidate.verdict, "")
    st.caption(
        f"Candidate #{candidate.id} · seed {candidate.seed} · {candidate.width}x{candidate.height}"
        f" · {position + 1} of {len(images)}{status}"
    )
    nav = st.columns(6)
    nav[0].button("Previous", key="kb_prev", icon=":material/arrow_back:", on_click=_step, args=(ws, agent.slug, -1), width="stretch")
    nav[1].button("Next", key="kb_next", icon=":material/arrow_forward:", on_click=_step, args=(ws, agent.slug, 1), width="stretch")
    nav[2].button("Approve", key="kb_approve", type="primary", icon=":material/check:", width="stretch",
                  on_click=_open, args=("approve", candidate.id))
    nav[3].button("Star", key="kb_star", icon=":material/star:", on_click=_lightbox_verdict, args=(ws, Verdict.STARRED), width="stretch")
    nav[4].button("Reject", key="kb_reject", icon=":material/thumb_down:", on_click=_lightbox_verdict, args=(ws, Verdict.REJECTED), width="stretch")
    extension = candidate.image_key.rsplit(".", 1)[-1]
    nav[5].download_button("Download", data=lambda: ws.media.get(candidate.image_key), file_name=f"{agent.slug}-{candidate.id}.{extension}",
                           key="lb_download", icon=":material/download:", width="stretch", on_click="ignore")
    review_keys()
    st.caption("Keys: ← → move · A approve · S star · X reject")
    act = st.columns(2)
    with act[0]:
        if vary_button(ws, agent.slug, candidate, "lb_vary") and _vary(ws, agent.slug, candidate.id):
            _close_dialog()
            st.rerun()  # the whole page, onto the new board
    with act[1]:
        rerolled = reroll_button(ws, candidate, "lb_reroll")
    if rerolled:
        _reroll(ws, agent.slug, candidate.id)
        _close_dialog()
        st.rerun()  # the whole page, onto the board where the new card takes this one's place
    if candidate.review_note:
        st.caption(f"Note: {literal(candidate.review_note)}")
    if candidate.provider_prompt and candidate.provider_prompt != candidate.generation.recipe.prompt:
        st.markdown("**Prompt the provider used**")
        st.text(candidate.provider_prompt)
    with st.expander("See it in the store"):
        store_cards(ws, agent, candidate)
    with st.expander("Full recipe"):
        st.json(candidate.generation.spec)
    if st.session_state.get("dialog", ("",))[0] == "approve":
        st.rerun()  # from the lightbox to the approval dialog


STORE_CARD = 300  # px: the width of an agent card on the store's listing


def store_cards(ws: Workspace, agent: Agent, candidate: Candidate) -> None:
    """The candidate as a shopper would see it: a store-sized card beside its neighbours'
    current thumbnails."""
    cards = [(agent.name, agent.sub_heading, candidate.image_key, True)]
    cards += [(a.name, a.sub_heading, a.current_thumbnail, False) for a in store_neighbours(ws, agent.slug)]
    html_cards = "".join(
        f'<div style="width:{STORE_CARD}px;flex:none;background:#1C0C47;border-radius:12px;overflow:hidden;'
        f'{"outline:2px solid #9900FF;" if mine else ""}">'
        f'<img src="{thumbnail_url(key, 384)}" alt="" style="width:100%;aspect-ratio:16/9;object-fit:cover;display:block">'
        f'<div style="padding:10px 12px;font-family:sans-serif"><div style="font-weight:700;color:#fff">{html.escape(name)}</div>'
        f'<div style="color:#c8c8e6;font-size:13px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis">{html.escape(sub or "")}</div></div></div>'
        for name, sub, key, mine in cards
    )
    st.html(f'<div style="display:flex;gap:16px;overflow-x:auto;padding:4px">{html_cards}</div>')
    st.caption("Outlined: this candidate, at the store's card size, beside agents the shopper sees with it.")


@st.dialog("Compare", width="large", on_dismiss=_close_dialog)
def compare(ws: Workspace, agent: Agent) -> None:
    picks = compare_picks(_board_images(ws, agent.slug))
    images = [(f"#{c.id} · seed {c.seed}", c.image_key) for c in ws.candidates(picks)]
    if st.session_state.get("compare_current") and agent.current_thumbnail:
        images.insert(0, ("Current thumbnail", agent.current_thumbnail))
    images = images[:4]
    if len(images) == 2:
        [first] = ws.candidates(picks[:1]) or [None]
        ratio = (first.width / first.height) if first and first.width and first.height else 16 / 9
        split = st.slider("Before / after", 0, 100, 50, key="compare_split", help="Drag to wipe between the two.")
        (left_label, left), (right_label, right) = images
        st.html(
            f'<div style="position:relative;width:100%;max-width:{fit_width_css(ratio)};margin:auto">'
            f'<img src="{thumbnail_url(right, LARGE)}" style="width:100%;display:block;border-radius:6px">'
            f'<img src="{thumbnail_url(left, LARGE)}" style="position:absolute;top:0;left:0;width:100%;'
            f'clip-path:inset(0 {100 - split}% 0 0);border-radius:6px">'
            f'<div style="position:absolute;top:0;bottom:0;left:{split}%;width:2px;background:#fff"></div></div>'
        )
        st.caption(f"Left: {left_label} · right: {right_label}")
    for col, (label, key) in zip(st.columns(len(images)), images):
        col.image(thumbnail_url(key, LARGE), width="stretch")
        col.caption(label)


@st.dialog("Approve this thumbnail?", on_dismiss=_close_dialog)
def confirm_approval(ws: Workspace, agent: Agent) -> None:
    candidate = ws.get_candidate(st.session_state["dialog"][1])
    st.image(thumbnail_url(candidate.image_key, CARD), width="stretch")
    st.write(
        f"It becomes the store thumbnail of **{literal(agent.name)}**"
        + (", replacing the current one." if agent.current_thumbnail else ".")
    )
    if st.button("Approve and upload", type="primary", key="confirm_approve", icon=":material/upload:"):
        try:
            approval = approve_candidate(ws, candidate.id, actor=current_actor())
        except ImagegenError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.session_state["just_approved"] = approval.id
        _close_dialog()
        st.rerun()


MAX_VIEW_HEIGHT = 560  # px: a square or tall image in a dialog stays above its buttons


def fit_width(width: int | None, height: int | None) -> int | str:
    """Display width that keeps an image at most MAX_VIEW_HEIGHT tall in a large dialog."""
    if not width or not height or width / height >= 16 / 9:
        return "stretch"
    return int(MAX_VIEW_HEIGHT * width / height)


def fit_width_css(ratio: float) -> str:
    return "100%" if ratio >= 16 / 9 else f"{int(MAX_VIEW_HEIGHT * ratio)}px"


def open_dialog(ws: Workspace, agent: Agent) -> None:
    """A dialog stays open across reruns until it finishes or is dismissed."""
    kind = st.session_state.get("dialog", (None,))[0]
    if kind == "view":
        lightbox(ws, agent)
    elif kind == "approve":
        confirm_approval(ws, agent)
    elif kind == "compare":
        compare(ws, agent)
