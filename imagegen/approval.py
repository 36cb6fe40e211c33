"""Approving a candidate: normalise, store, record; then publish and record the outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagegen.auth import Actor, local_admin, require
from imagegen.errors import ImagegenError, InvalidInput, NotFound, UploadFailed
from imagegen.images import normalise_for_upload
from imagegen.publish import publish_approval, target_name
from imagegen.records import Agent, Approval, Candidate, CandidateStatus, Generation, Publication, utcnow

if TYPE_CHECKING:
    from imagegen.workspace import Workspace


def approve_candidate(ws: "Workspace", candidate_id: int, *, actor: Actor | None = None) -> Approval:
    """Make the candidate the agent's thumbnail, then publish it. If storing the image fails,
    nothing is recorded; if publishing fails, the approval stands and the failure is recorded
    (see imagegen.publish). `actor` defaults to the local admin (the CLI, open mode)."""
    actor = require(actor or local_admin(ws.settings), "approve")
    with ws.session() as s:
        cand = s.get(Candidate, candidate_id)
        if cand is None:
            raise NotFound(f"No candidate {candidate_id}.")
        if cand.status is not CandidateStatus.SUCCEEDED or not cand.image_key:
            raise InvalidInput(f"Candidate {candidate_id} has no image to approve (it is {cand.status.value}).")
        image_key, generation_id = cand.image_key, cand.generation_id
        recipe = {"agent": cand.generation.agent.slug, **cand.generation.spec, "seed": cand.seed, "count": 1}

    settings = ws.settings
    try:
        upload = normalise_for_upload(
            ws.media.get(image_key),
            image_format=settings.upload_format,
            max_width=settings.upload_max_width,
            background=settings.upload_background,
            recipe=recipe if settings.upload_keep_recipe else None,  # stripped unless asked for
        )
        upload_key = ws.media.put(upload, settings.upload_format)
    except ImagegenError as exc:
        raise UploadFailed(f"The approved image could not be stored, so nothing was approved: {exc}") from exc
    except OSError as exc:
        raise UploadFailed(f"The approved image could not be stored, so nothing was approved ({exc}).") from exc

    with ws.session() as s, s.begin():
        gen = s.get(Generation, generation_id)
        agent = s.get(Agent, gen.agent_id)
        approval = Approval(
            agent_id=agent.id,
            candidate_id=candidate_id,
            approved_by=actor.email,
            upload_key=upload_key,
            previous_thumbnail=agent.current_thumbnail,
            spec=gen.spec,
        )
        s.add(approval)
        agent.current_thumbnail, agent.updated_at = upload_key, utcnow()
        s.flush()
        # Recorded with the approval, so a crash before publishing still leaves it to Retry.
        s.add(Publication(approval_id=approval.id, target=target_name(settings)))
    publish_approval(ws, approval.id)
    return approval
