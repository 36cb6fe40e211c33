"""What happened to an agent: its generations with their recipes, and the approvals trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from imagegen.auth import Actor, local_admin, require
from imagegen.errors import NotFound
from imagegen.publish import publish_approval, target_name
from imagegen.records import Agent, Approval, CandidateStatus, Generation, Publication, utcnow

if TYPE_CHECKING:
    from imagegen.workspace import Workspace


def agent_history(
    ws: "Workspace", slug: str, *, provider: str | None = None, status: CandidateStatus | None = None, approved_only: bool = False
) -> list[Generation]:
    """Generations of an agent, newest first, filtered by provider, candidate status or approval."""
    with ws.session() as s:
        agent = ws.get_agent(slug, session=s)
        gens = list(s.scalars(select(Generation).where(Generation.agent_id == agent.id).order_by(Generation.id.desc())))
        approved = set(s.scalars(select(Approval.candidate_id).where(Approval.agent_id == agent.id)))
    out = []
    for gen in gens:
        if provider and gen.recipe.provider != provider:
            continue
        if status and not any(c.status is status for c in gen.candidates):
            continue
        if approved_only and not any(c.id in approved for c in gen.candidates):
            continue
        out.append(gen)
    return out


def approvals(ws: "Workspace", slug: str) -> list[Approval]:
    with ws.session() as s:
        agent = ws.get_agent(slug, session=s)
        return list(s.scalars(select(Approval).where(Approval.agent_id == agent.id).order_by(Approval.id.desc())))


def revert_to(ws: "Workspace", approval_id: int, *, actor: Actor | None = None) -> Approval:
    """Make an earlier approved upload current again, recorded as a new approval (admins only),
    then publish it as an approval is: the store shows the agent's current thumbnail."""
    actor = require(actor or local_admin(ws.settings), "revert")
    with ws.session() as s, s.begin():
        old = s.get(Approval, approval_id)
        if old is None:
            raise NotFound(f"No approval {approval_id}.")
        if not ws.media.exists(old.upload_key):
            raise NotFound(f"The upload of approval {approval_id} is missing from the media store.")
        agent = s.get(Agent, old.agent_id)
        new = Approval(
            agent_id=agent.id, candidate_id=old.candidate_id, approved_by=actor.email,
            upload_key=old.upload_key, previous_thumbnail=agent.current_thumbnail, spec=old.spec,
            note=f"revert to approval #{old.id}", width=old.width, height=old.height, format=old.format, byte_size=old.byte_size,
        )
        s.add(new)
        s.flush()
        # Recorded with the approval, as approve_candidate does: a crash before publishing leaves it to Retry.
        s.add(Publication(approval_id=new.id, target=target_name(ws.settings)))
        agent.current_thumbnail, agent.updated_at = old.upload_key, utcnow()
    publish_approval(ws, new.id)
    return new
