"""Approving a candidate: normalise, store, record; then publish and record the outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from imagegen.auth import Actor, local_admin, require
from imagegen.errors import ImagegenError, InvalidInput, NotFound, UploadFailed
from imagegen.images import CheckedImage, normalise_for_upload
from imagegen.publish import publish_approval, target_name
from imagegen.records import Agent, Approval, BatchItem, Candidate, CandidateStatus, Generation, Publication, utcnow

if TYPE_CHECKING:
    from imagegen.workspace import Workspace


def approve_candidate(ws: "Workspace", candidate_id: int, *, actor: Actor | None = None, batch_item_id: int | None = None) -> Approval:
    """Make the candidate the agent's thumbnail, then publish it. If storing the image fails,
    nothing is recorded; if publishing fails, the approval stands and the failure is recorded
    (see imagegen.publish). With `batch_item_id`, the approval is recorded on that item in the
    same transaction, and an item that already has one keeps it (auto-approve is idempotent).
    `actor` defaults to the local admin (the CLI, open mode)."""
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
        upload_key = ws.media.put(upload.data, upload.format)
    except ImagegenError as exc:
        raise UploadFailed(f"The approved image could not be stored, so nothing was approved: {exc}") from exc
    except OSError as exc:
        raise UploadFailed(f"The approved image could not be stored, so nothing was approved ({exc}).") from exc

    approval = _record(ws, candidate_id, generation_id, upload_key, upload, actor.email, batch_item_id)
    publish_approval(ws, approval.id)  # idempotent: an approval already published is left alone
    return approval


def _record(ws: "Workspace", candidate_id: int, generation_id: int, upload_key: str, upload: CheckedImage, approved_by: str,
            batch_item_id: int | None) -> Approval:
    """The approval and the thumbnail switch in ONE transaction, serialised per agent by a
    compare-and-set on `agents.current_thumbnail`: the switch happens only if the thumbnail is
    still the one read as "previous", else it is read again. On PostgreSQL the UPDATE takes the
    row lock and re-checks its WHERE after waiting; on SQLite the UPDATE takes the one write lock."""
    while True:
        with ws.session() as s:
            gen = s.get(Generation, generation_id)
            agent_id, spec = gen.agent_id, gen.spec
            previous = s.scalar(select(Agent.current_thumbnail).where(Agent.id == agent_id))
        with ws.session() as s, s.begin():
            item = s.get(BatchItem, batch_item_id) if batch_item_id is not None else None
            if item is not None and item.approval_id is not None:
                return s.get(Approval, item.approval_id)  # approved already (a resumed batch): keep that one
            switched = s.execute(
                update(Agent)
                .where(Agent.id == agent_id, Agent.current_thumbnail.is_not_distinct_from(previous))
                .values(current_thumbnail=upload_key, updated_at=utcnow())
            ).rowcount
            if not switched:
                continue  # another approval of this agent landed first: chain after it
            approval = Approval(agent_id=agent_id, candidate_id=candidate_id, approved_by=approved_by,
                                upload_key=upload_key, previous_thumbnail=previous, spec=spec, width=upload.width,
                                height=upload.height, format=upload.format, byte_size=len(upload.data))
            s.add(approval)
            s.flush()
            # Recorded with the approval, so a crash before publishing still leaves it to Retry.
            s.add(Publication(approval_id=approval.id, target=target_name(ws.settings)))
            if item is not None:
                item.approval_id = approval.id
            return approval


def get_approval(ws: "Workspace", approval_id: int) -> Approval:
    with ws.session() as s:
        approval = s.get(Approval, approval_id)
        if approval is None:
            raise NotFound(f"No approval {approval_id}.")
        return approval
