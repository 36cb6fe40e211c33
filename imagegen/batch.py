"""Batches: one recipe over many agents, resumable after a restart, nothing approved unless asked.

A batch is a row with one item per agent. Each item records its generation in the same
transaction that creates it, so a resumed batch finishes an interrupted job instead of
starting a second one, and every agent ends with exactly one set of candidates.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable

from sqlalchemy import select

from imagegen.approval import approve_candidate
from imagegen.auth import Actor, Role, local_admin, require
from imagegen.errors import BudgetExceeded, ImagegenError, InvalidInput, NotFound
from imagegen.generation import process_alive, requeue_interrupted, run_generation, start_generation
from imagegen.recipes import make_spec
from imagegen.records import (
    Agent,
    Batch,
    BatchItem,
    BatchItemStatus,
    BatchStatus,
    CandidateStatus,
    Generation,
    GenerationStatus,
    utcnow,
)

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

Progress = Callable[[int, int, str], None]  # done, total, the agent just finished


def select_agents(ws: "Workspace", *, missing: bool = False, category: str | None = None, slugs: list[str] | None = None) -> list[Agent]:
    with ws.session() as s:
        agents = list(s.scalars(select(Agent).order_by(Agent.slug)))
    if slugs:
        known = {a.slug: a for a in agents}
        unknown = [slug for slug in slugs if slug not in known]
        if unknown:
            raise NotFound(f"No agent with slug {', '.join(map(repr, unknown))}.")
        agents = [known[slug] for slug in slugs]
    if missing:
        agents = [a for a in agents if not a.current_thumbnail]
    if category:
        agents = [a for a in agents if category in a.categories]
    if not agents:
        raise InvalidInput("No agent matches that selection.")
    return agents


def create_batch(ws: "Workspace", agents: list[Agent], choices: dict, *, name: str = "", selection: dict | None = None, auto_approve: bool = False,
                 actor: Actor | None = None) -> int:
    """Record a batch; the recipe is checked on the first agent before anything is written."""
    actor = require(actor or local_admin(ws.settings), "batch")
    make_spec(ws, agents[0], **choices)
    with ws.session() as s, s.begin():
        batch = Batch(name=name or f"{len(agents)} agents", selection=selection or {}, choices=choices, auto_approve=auto_approve,
                      created_by=actor.email)
        s.add(batch)
        s.flush()
        for agent in agents:
            s.add(BatchItem(batch_id=batch.id, agent_id=agent.id))
        return batch.id


def get_batch(ws: "Workspace", batch_id: int) -> Batch:
    with ws.session() as s:
        batch = s.get(Batch, batch_id)
        if batch is None:
            raise NotFound(f"No batch {batch_id}.")
        return batch


def set_batch_status(ws: "Workspace", batch_id: int, status: BatchStatus) -> None:
    """Pause or cancel from anywhere (the page, another process); the runner stops between agents."""
    with ws.session() as s, s.begin():
        batch = s.get(Batch, batch_id)
        if batch.status in (BatchStatus.DONE, BatchStatus.CANCELED):
            return
        batch.status = status


async def run_batch(ws: "Workspace", batch_id: int, on_progress: Progress | None = None) -> BatchStatus:
    with ws.session() as s, s.begin():
        batch = s.get(Batch, batch_id)
        if batch is None:
            raise NotFound(f"No batch {batch_id}.")
        if batch.status in (BatchStatus.DONE, BatchStatus.CANCELED):
            return batch.status
        batch.status, batch.worker_pid = BatchStatus.RUNNING, os.getpid()
        choices, auto_approve = batch.choices, batch.auto_approve
        # The role was checked when the batch was recorded; its work is done in its creator's name.
        actor = Actor(batch.created_by or ws.settings.curator, Role.CURATOR)
        item_ids = [i.id for i in batch.items]
    total = len(item_ids)
    for item_id in item_ids:
        with ws.session() as s:
            status = s.get(Batch, batch_id).status
            item = s.get(BatchItem, item_id)
        if status is not BatchStatus.RUNNING:
            return status  # paused or canceled between agents
        if item.status is not BatchItemStatus.PENDING:
            continue
        try:
            await _run_item(ws, item, choices, auto_approve, actor)
        except BudgetExceeded as exc:
            _finish_item(ws, item_id, BatchItemStatus.PENDING, str(exc))
            set_batch_status(ws, batch_id, BatchStatus.PAUSED)
            return BatchStatus.PAUSED
        if on_progress:
            done = _count_done(ws, batch_id)
            on_progress(done, total, item.agent.slug)
    with ws.session() as s, s.begin():
        batch = s.get(Batch, batch_id)
        if batch.status is BatchStatus.RUNNING:
            batch.status, batch.finished_at = BatchStatus.DONE, utcnow()
        return batch.status


async def _run_item(ws: "Workspace", item: BatchItem, choices: dict, auto_approve: bool, actor: Actor) -> None:
    generation_id = item.generation_id
    if generation_id is None:
        try:
            spec = make_spec(ws, item.agent, **choices)
        except BudgetExceeded:
            raise
        except ImagegenError as exc:
            _finish_item(ws, item.id, BatchItemStatus.FAILED, str(exc))
            return
        generation_id = start_generation(ws, item.agent.slug, spec, batch_item_id=item.id, actor=actor)
    else:
        requeue_interrupted(ws, generation_id)  # a job cut short by a restart picks up where it stopped
    if not ws.get_generation(generation_id).status.finished:
        await run_generation(ws, generation_id)
    gen = ws.get_generation(generation_id)
    if gen.status is GenerationStatus.SUCCEEDED:
        if auto_approve:
            first = next(c for c in gen.candidates if c.status is CandidateStatus.SUCCEEDED)
            approve_candidate(ws, first.id, actor=actor)
        _finish_item(ws, item.id, BatchItemStatus.DONE, None)
    else:
        _finish_item(ws, item.id, BatchItemStatus.FAILED, gen.error or f"The generation ended {gen.status.value}.")


def _finish_item(ws, item_id: int, status: BatchItemStatus, error: str | None) -> None:
    with ws.session() as s, s.begin():
        item = s.get(BatchItem, item_id)
        item.status, item.error = status, error


def _count_done(ws, batch_id: int) -> int:
    with ws.session() as s:
        return sum(i.status is not BatchItemStatus.PENDING for i in s.get(Batch, batch_id).items)


def recover_batches(ws: "Workspace") -> int:
    """Batches whose process died are paused, ready to resume."""
    count = 0
    with ws.session() as s, s.begin():
        for batch in s.scalars(select(Batch).where(Batch.status == BatchStatus.RUNNING)):
            if batch.worker_pid is None or not process_alive(batch.worker_pid):
                batch.status = BatchStatus.PAUSED
                count += 1
    return count


def batch_generations(ws: "Workspace", batch_id: int) -> list[tuple[BatchItem, Generation | None]]:
    """Each item with its generation, for review."""
    with ws.session() as s:
        items = s.get(Batch, batch_id).items
        gens = {g.id: g for g in s.scalars(select(Generation).where(Generation.id.in_([i.generation_id for i in items if i.generation_id])))}
        return [(i, gens.get(i.generation_id)) for i in items]
