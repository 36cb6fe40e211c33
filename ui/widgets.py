"""Small view pieces the pages share."""

from __future__ import annotations

import html
import json
import types
from typing import Literal, Union, get_args, get_origin

import streamlit as st
from pydantic import BaseModel

from imagegen.approval import approve_candidate
from imagegen.errors import ImagegenError
from imagegen.records import CandidateStatus, Palette, Verdict
from ui.auth import current_actor
from ui.resources import workspace

BADGES: dict[CandidateStatus, tuple[str, str, str]] = {
    CandidateStatus.QUEUED: ("Queued", "gray", ":material/schedule:"),
    CandidateStatus.RUNNING: ("Generating", "blue", ":material/progress_activity:"),
    CandidateStatus.SUCCEEDED: ("Ready", "green", ":material/check_circle:"),
    CandidateStatus.FAILED: ("Failed", "red", ":material/error:"),
    CandidateStatus.BLOCKED: ("Blocked by the safety filter", "orange", ":material/block:"),
    CandidateStatus.CANCELED: ("Canceled", "gray", ":material/cancel:"),
    CandidateStatus.INTERRUPTED: ("Interrupted", "violet", ":material/power_off:"),
}


# CommonMark lets any ASCII punctuation be backslash-escaped; escaping it all leaves no link,
# emphasis, HTML, Streamlit directive (:red[...]) or autolink in catalog text.


# Review keys: a key clicks the button whose widget key it names, when that button is on screen.
REVIEW_KEYS = {"ArrowLeft": "kb_prev", "ArrowRight": "kb_next", "a": "kb_approve", "s": "kb_star", "x": "kb_reject"}

# Why not streamlit-shortcuts (1.2.2): its listener is created inside the component's iframe the
# first time, so it dies with that iframe (the lightbox dialog closing, or leaving the page) and
# is never attached again; and its letters fire inside text fields. This one runs in the page's
# own window (st.html is not iframed), is attached once per tab, and leaves typing alone.
_KEYS_SCRIPT = """<script>
(() => {
  window.__imagegenKeys = %s;
  if (window.__imagegenKeysListener) return;
  const typing = (t) => t && (t.isContentEditable || t.tagName === "TEXTAREA" || t.tagName === "SELECT"
    || (t.tagName === "INPUT" && !["checkbox", "radio", "button", "submit", "range"].includes(t.type)));
  window.__imagegenKeysListener = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing || typing(e.target)) return;
    const key = window.__imagegenKeys[e.key.length === 1 ? e.key.toLowerCase() : e.key];
    const button = key && document.querySelector(`.st-key-${key} button:not([disabled])`);
    if (!button) return;
    e.preventDefault();
    button.click();
  };
  document.addEventListener("keydown", window.__imagegenKeysListener);
})();
</script>"""


def review_keys() -> None:
    """← → A S X for the review buttons keyed kb_prev, kb_next, kb_approve, kb_star, kb_reject."""
    st.html(_KEYS_SCRIPT % json.dumps(REVIEW_KEYS), unsafe_allow_javascript=True, width="content")


def pager(page, key: str, on_turn, *, back: str = "Previous", forward: str = "Next") -> None:
    """Previous/Next under a list paged in SQL (an `imagegen.listings.Page`), keyed `{key}_previous`
    and `{key}_next`; `on_turn(offset)` is called with the offset to show. Nothing when all fits on one page."""
    if not (page.has_previous or page.has_next):
        return
    left, right = st.columns(2)
    left.button(back, key=f"{key}_previous", icon=":material/chevron_left:", disabled=not page.has_previous,
                on_click=on_turn, args=(max(0, page.offset - page.limit),), width="stretch")
    right.button(forward, key=f"{key}_next", icon=":material/chevron_right:", disabled=not page.has_next,
                 on_click=on_turn, args=(page.offset + page.limit,), width="stretch")


def status_badge(status: CandidateStatus) -> None:
    label, colour, icon = BADGES[status]
    st.badge(label, color=colour, icon=icon)


def verdict_badge(candidate) -> None:
    if candidate.verdict is Verdict.STARRED:
        st.badge("Starred", color="yellow", icon=":material/star:")
    elif candidate.verdict is Verdict.REJECTED:
        st.badge("Rejected", color="gray", icon=":material/thumb_down:")


def review_matches(candidate, review: str) -> bool:
    """The Review filter of History: any, starred, rejected or not rejected."""
    verdict = candidate.verdict.value if candidate.verdict else None
    return review == "any" or verdict == review or (review == "not rejected" and verdict != "rejected")


def swatches(palette: Palette) -> None:
    """The palette as a strip, each colour as wide as its weight."""
    cells = "".join(
        f'<div title="{html.escape(c.hex)} · {c.weight:g}" style="flex:{c.weight};background:{html.escape(c.hex)};'
        'border:1px solid rgba(255,255,255,.45);border-radius:4px"></div>'
        for c in palette.colors
    )
    # Each cell has its own light edge, so a colour close to the page background (#000030 on
    # the dark theme) still shows.
    st.html(f'<div style="display:flex;gap:2px;height:28px">{cells}</div>')


def option_inputs(model: type[BaseModel] | None, key_prefix: str) -> dict:
    """Widgets for a provider's typed options: choices, switches and bounded numbers.

    Fields marked `json_schema_extra={"hidden": True}` are not shown; a field with a
    `warning` shows it while the value is on."""
    values: dict = {}
    for name, field in (model.model_fields.items() if model else ()):
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("hidden"):
            continue
        label, key = name.replace("_", " ").capitalize(), f"{key_prefix}_{name}"
        annotation = field.annotation
        optional = get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)
        if optional:
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        bounds = {type(m).__name__: m for m in field.metadata}
        low = getattr(bounds.get("Ge"), "ge", None)
        high = getattr(bounds.get("Le"), "le", None)
        step = getattr(bounds.get("MultipleOf"), "multiple_of", None)
        # The widget's default is its current value: a recalled recipe sets these keys, and a
        # widget the browser re-creates must not fall back to another value.
        current = st.session_state.setdefault(key, field.default)
        if get_origin(annotation) is Literal:
            choices = list(get_args(annotation))
            values[name] = st.selectbox(label, choices, index=choices.index(current) if current in choices else 0, key=key)
        elif annotation is bool:
            values[name] = st.toggle(label, value=bool(current), key=key)
        elif annotation in (int, float):
            values[name] = st.number_input(
                label, min_value=low, max_value=high, value=current, step=step or (1 if annotation is int else 0.05),
                key=key, placeholder="auto" if optional else None, help=field.description,
            )
        else:
            continue
        if extra.get("warning") and values[name]:
            st.warning(extra["warning"], icon=":material/warning:")
    return values


def _approve_from_cell(candidate_id: int) -> None:
    try:
        approve_candidate(workspace(), candidate_id, actor=current_actor())
        st.session_state["cell_message"] = ("success", f"Approved candidate #{candidate_id}.")
    except ImagegenError as exc:
        st.session_state["cell_message"] = ("error", str(exc))


def cell_actions(candidate, slug: str) -> None:
    """Under an experiment cell's image: approve it, or open its board in the studio (where
    it can be viewed large and compared), labelled as an experiment run."""
    a, b = st.columns(2)
    a.button("Approve", key=f"cell_approve_{candidate.id}", width="stretch", on_click=_approve_from_cell, args=(candidate.id,))
    b.link_button("Open", f"/?agent={slug}&generation={candidate.generation_id}", width="stretch")
