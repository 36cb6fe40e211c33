"""Where an approval went: its publishing outcome, Retry for admins, a download, the store's image."""

from __future__ import annotations

import streamlit as st

from imagegen.auth import Actor
from imagegen.errors import ImagegenError
from imagegen.history import approvals
from imagegen.publish import publications, retry_publishing
from imagegen.records import Agent, Approval, Publication, PublishStatus
from ui.resources import workspace

BADGES = {
    PublishStatus.PENDING: ("Publishing", "blue", ":material/schedule:"),
    PublishStatus.PUBLISHED: ("Published", "green", ":material/cloud_done:"),
    PublishStatus.FAILED: ("Publishing failed", "red", ":material/cloud_off:"),
    PublishStatus.NEEDS_SUBMISSION: ("Needs a new store submission", "orange", ":material/assignment_late:"),
}


def publish_state(approval: Approval, actor: Actor | None, *, slug: str | None = None,
                  known: dict[int, Publication] | None = None) -> None:
    """The outcome of one approval's publishing, with Retry when it failed and a download.
    A list of approvals passes its agent's `slug` and `known` (one `publications` call for the
    whole list), so it costs no statement per approval."""
    ws = workspace()
    pub = (publications(ws, [approval.id]) if known is None else known).get(approval.id)
    if pub is not None:
        label, colour, icon = BADGES[pub.status]
        st.badge(label, color=colour, icon=icon)
        if pub.url:
            st.text(pub.url)  # a URL we recorded; shown as text, never as a link built from catalog data
        if pub.error:
            st.text(pub.error)
        if pub.status.retryable and actor is not None and actor.can("publish"):
            if st.button("Retry", key=f"retry_publish_{approval.id}", icon=":material/refresh:"):
                try:
                    retry_publishing(ws, [approval.id], actor=actor)
                except ImagegenError as exc:
                    st.error(str(exc))
                st.rerun()
    if slug is None:
        with ws.session() as s:
            slug = s.get(Agent, approval.agent_id).slug
    ext = approval.upload_key.rsplit(".", 1)[-1]
    st.download_button("Download", data=lambda: ws.media.get(approval.upload_key), file_name=f"{slug}.{ext}",
                       key=f"download_{approval.id}", icon=":material/download:", on_click="ignore")


def current_publish_state(agent: Agent, actor: Actor | None) -> None:
    """Where the agent's current thumbnail was published, so a failure stays in sight in the studio."""
    current = next((a for a in approvals(workspace(), agent.slug) if a.upload_key == agent.current_thumbnail), None)
    if current is not None:
        publish_state(current, actor)


def store_image(agent: Agent) -> None:
    """The store's current image: the browser loads it from the store; the server never fetches it."""
    if agent.store_image_url:
        st.image(agent.store_image_url, caption="now in the store", width="stretch")
