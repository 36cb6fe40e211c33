"""Small view pieces the pages share."""

from __future__ import annotations

import html

import streamlit as st

from imagegen.records import CandidateStatus, Palette

BADGES: dict[CandidateStatus, tuple[str, str, str]] = {
    CandidateStatus.QUEUED: ("Queued", "gray", ":material/schedule:"),
    CandidateStatus.RUNNING: ("Generating", "blue", ":material/progress_activity:"),
    CandidateStatus.SUCCEEDED: ("Ready", "green", ":material/check_circle:"),
    CandidateStatus.FAILED: ("Failed", "red", ":material/error:"),
    CandidateStatus.BLOCKED: ("Blocked by the safety filter", "orange", ":material/block:"),
    CandidateStatus.CANCELED: ("Canceled", "gray", ":material/cancel:"),
    CandidateStatus.INTERRUPTED: ("Interrupted", "violet", ":material/power_off:"),
}


def status_badge(status: CandidateStatus) -> None:
    label, colour, icon = BADGES[status]
    st.badge(label, color=colour, icon=icon)


def swatches(palette: Palette) -> None:
    """The palette as a strip, each colour as wide as its weight."""
    cells = "".join(
        f'<div title="{html.escape(c.hex)} · {c.weight:g}" style="flex:{c.weight};background:{html.escape(c.hex)};"></div>'
        for c in palette.colors
    )
    st.html(f'<div style="display:flex;height:28px;border-radius:6px;overflow:hidden;border:1px solid #2E1A66">{cells}</div>')
