"""Batches: one recipe over many agents, resumable after a restart, nothing approved unless asked.

A batch is a row with one item per agent. Each item records its generation in the same
transaction that creates it, so a resumed batch finishes an interrupted job instead of
starting a second one, and every agent ends with exactly one set of candidates.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, lazyload

from imagegen.approval import approve_candidate
from imagegen.auth import Actor, Role, local_admin, require
from imagegen.errors import BudgetExceeded, ImagegenError, InvalidInput, NotFound
from imagegen.generation import Job, end_stopped, raise_first, requeue_interrupted, run_generation, start_claimed
from imagegen.leases import expired, held, lease_until
from imagegen.listings import agent_query, batch_summary
from imagegen.recipes import make_spec
from imagegen.records import (
    Agent,
    Batch,
    BatchItem,
    BatchItemStatus,
    BatchStatus,
    Candidate,
    CandidateStatus,
    Generation,
    GenerationStatus,
    transition,
    utcnow,
)

if TYPE_CHECKING:
    from imagegen.workspace import Workspace



def _selected(session, *, missing: bool, category: str | None, slugs: list[str] | None):
    """The agents a selection names, filtered in SQL, by slug. Slugs must all exist."""
    slugs = list(dict.fromkeys(slugs)) if slugs else None  # a slug listed twice is one agent
    if slugs:
        known = set(session.scalars(select(Agent.slug).where(Agent.slug.in_(slugs))))
        unknown = [slug for slug in slugs if slug not in known]
        if unknown:
            raise NotFound(f"No agent with slug {', '.join(map(repr, unknown))}.")
    stmt = agent_query(dialect=session.get_bind().dialect.name, category=category, only_missing=missing)
    stmt = stmt.order_by(None).order_by(Agent.slug)
    return stmt.where(Agent.slug.in_(slugs)) if slugs else stmt


def select_agents(ws: "Workspace", *, missing: bool = False, category: str | None = None, slugs: list[str] | None = None) -> list[Agent]:
    """The agents a batch runs: all, those without a thumbnail, a category's, or a list of slugs
    (in the order given), filtered in SQL."""
    with ws.session() as s:
        agents = list(s.scalars(_selected(s, missing=missing, category=category, slugs=slugs)))
    if slugs:
        found = {a.slug: a for a in agents}
        agents = [found[slug] for slug in dict.fromkeys(slugs) if slug in found]
    if not agents:
        raise InvalidInput("No agent matches that selection.")
    return agents


def selection_size(ws: "Workspace", *, missing: bool = False, category: str | None = None, slugs: list[str] | None = None) -> tuple[int, Agent]:
    """How many agents a selection holds, and the first of them (for the recipe's estimate),
    without reading the others: what the Batch page shows before a batch starts."""
    with ws.session() as s:
        stmt = _selected(s, missing=missing, category=category, slugs=slugs)
        count = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        first = s.scalars(stmt.limit(1)).first()
    if not count or first is None:
        raise InvalidInput("No agent matches that selection.")
    return count, first


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


def set_batch_status(ws: "Workspace", batch_id: int, status: BatchStatus, *, by_budget: bool = False) -> None:
    """Pause, cancel or resume from anywhere (the page, another process). A person's Pause holds
    back every job that has not yet sent its call; `by_budget` (the batch pausing itself, its
    budget spent) lets the jobs that already reserved their share finish."""
    with ws.session() as s, s.begin():
        batch = s.get(Batch, batch_id, with_for_update=True)  # a person's Pause and the budget's, one after the other
        if batch is None:
            raise NotFound(f"No batch {batch_id}.")
        if batch.status is not status and batch.status.can_become(status):
            transition(batch, status)
            batch.budget_paused = by_budget
        elif not by_budget:
            batch.budget_paused = False  # a person's Pause of a batch the budget had paused


@dataclass
class Throughput:
    """What the terminal and the Batch page show: progress, images a minute, the projected end."""

    done: int
    total: int
    images: int
    started: float  # time.monotonic() when this run began
    done_at_start: int

    @property
    def images_per_minute(self) -> float:
        elapsed = time.monotonic() - self.started
        return 60 * self.images / elapsed if elapsed > 0 else 0.0

    @property
    def projected_end(self) -> datetime | None:
        finished_here = self.done - self.done_at_start
        if finished_here <= 0:
            return None
        per_agent = (time.monotonic() - self.started) / finished_here
        return utcnow() + timedelta(seconds=per_agent * (self.total - self.done))


def _claim_batch(ws: "Workspace", batch_id: int) -> tuple[BatchStatus, dict, bool, list[int], int]:
    with ws.session() as s, s.begin():
        batch = s.get(Batch, batch_id)
        if batch is None:
            raise NotFound(f"No batch {batch_id}.")
        if batch.status is not BatchStatus.RUNNING:
            return batch.status, {}, False, [], 0
        if batch.lease_owner not in (None, ws.owner) and not expired(batch.lease_until, utcnow()):
            raise InvalidInput(f"Batch {batch_id} is being run by another runner right now; pause it there, or wait for it.")
        batch.lease_owner, batch.lease_until = ws.owner, lease_until(ws)
        rows = s.execute(select(BatchItem.id, BatchItem.status).where(BatchItem.batch_id == batch_id).order_by(BatchItem.id)).all()
        pending = [item_id for item_id, status in rows if status is BatchItemStatus.PENDING]
        return batch.status, batch.choices, batch.auto_approve, pending, len(rows)


def _creator(ws: "Workspace", batch_id: int) -> Actor:
    """The role was checked when the batch was recorded; its work is done in its creator's name."""
    with ws.session() as s:
        return Actor(s.scalar(select(Batch.created_by).where(Batch.id == batch_id)) or ws.settings.curator, Role.CURATOR)


def _batch_status(ws: "Workspace", batch_id: int) -> BatchStatus:
    with ws.session() as s:
        return s.scalar(select(Batch.status).where(Batch.id == batch_id))


def may_go_ahead(ws: "Workspace", batch_id: int) -> bool:
    """May a job of this batch that has not yet sent its call go ahead? Not after a person's Pause or Cancel."""
    with ws.session() as s:
        status, budget_paused = s.execute(select(Batch.status, Batch.budget_paused).where(Batch.id == batch_id)).one()
    return status is BatchStatus.RUNNING or (status is BatchStatus.PAUSED and budget_paused)


Progress = Callable[[Throughput, str], None]  # counts so far, the agent just finished


async def run_batch(ws: "Workspace", batch_id: int, on_progress: Progress | None = None) -> BatchStatus:
    """Run a batch's pending agents, as many at once as the provider's in-flight budget allows.

    The limiter is the one every job of this Workspace and loop shares, so a batch never starves
    the studio. Pause and Cancel are read between agents; each agent ends with exactly one generation."""
    status, choices, auto_approve, pending, total = await asyncio.to_thread(_claim_batch, ws, batch_id)
    if status is not BatchStatus.RUNNING:
        return status
    actor = await asyncio.to_thread(_creator, ws, batch_id)
    provider = choices.get("provider") or "local"
    per_agent = max(1, int(choices.get("count") or 4))
    try:
        capacity = ws.limiter(provider).capacity
        draws_locally = ws.provider(provider).draws_locally
    except ImagegenError:
        capacity, draws_locally = 1, False  # the first agent's job reports the missing key as its failure
    queue = iter(pending)
    progress = Throughput(total - len(pending), total, 0, time.monotonic(), total - len(pending))
    stop: list[BatchStatus] = []
    held_back: list[int] = []  # agents a Pause stopped before their call: still pending

    async def worker() -> None:
        for item_id in queue:
            if stop:
                return
            try:
                status, slug, made = await _run_item(ws, batch_id, item_id, choices, auto_approve, actor)
            except BudgetExceeded as exc:
                await asyncio.to_thread(_set_item_error, ws, item_id, str(exc))
                await asyncio.to_thread(functools.partial(set_batch_status, ws, batch_id, BatchStatus.PAUSED, by_budget=True))
                stop.append(BatchStatus.PAUSED)
                return
            except Exception:  # unforeseen (a job's own errors end the job): the others start no new agent
                stop.append(BatchStatus.RUNNING)
                raise
            if status is not BatchStatus.RUNNING:  # paused or canceled before this agent started: it stays pending
                stop.append(status)
                return
            if made is None:
                held_back.append(item_id)
                continue
            progress.done += 1
            progress.images += made
            if on_progress:
                on_progress(progress, slug)

    # Twice the agents that fit in flight: while one agent's images are being saved, the next is already asking.
    workers = 2 * max(1, capacity // min(per_agent, capacity))
    if draws_locally:  # the renderer answers about as fast as an agent's bookkeeping: one agent per image slot keeps the pool fed
        workers = max(workers, capacity)
    async with held(ws, Batch, batch_id):
        while True:
            # Every agent ends its own way before the batch run does: stopped (a shutdown cancels
            # this run), each records its job interrupted; one agent's error is raised only after.
            raise_first(await asyncio.gather(*(worker() for _ in range(workers)), return_exceptions=True))
            # Resumed while this run drained (another process cannot take the batch over while it
            # runs): the agents it held back go now, or they would stay pending with nobody to run them.
            if not held_back or await asyncio.to_thread(_batch_status, ws, batch_id) is not BatchStatus.RUNNING:
                return await asyncio.to_thread(_end_batch, ws, batch_id)
            queue, stop[:], held_back[:] = iter(list(held_back)), [], []


async def run_batch_item(ws: "Workspace", batch_id: int, item_id: int) -> None:
    """Run one agent of a batch that was fanned out as one job per agent (workers on PostgreSQL).

    Pause and Cancel are read before the agent starts; an agent already done is left alone, so
    a job run twice (a worker retried after it died) does nothing the second time. The agent
    that finishes last marks the batch done."""
    def read() -> tuple:  # one short read, not the batch with all its items
        with ws.session() as s:
            row = s.execute(select(Batch.status, Batch.choices, Batch.auto_approve, Batch.created_by).where(Batch.id == batch_id)).one()
            return row, s.scalar(select(BatchItem.status).where(BatchItem.id == item_id))

    row, item_status = await asyncio.to_thread(read)
    if row.status is not BatchStatus.RUNNING:
        return
    if item_status is not BatchItemStatus.PENDING:
        # A retry of a job whose worker died after finishing the agent but before ending the
        # batch: if it was the last agent, the batch is ended here, or it would run for ever.
        await asyncio.to_thread(_end_batch, ws, batch_id)
        return
    actor = Actor(row.created_by or ws.settings.curator, Role.CURATOR)  # as `_creator` says
    try:
        # Held back (None), then resumed before this job ended: a resume's new job for this agent
        # waits behind this one's lock, so this one runs it now.
        while True:
            status, _, made = await _run_item(ws, batch_id, item_id, row.choices, row.auto_approve, actor)
            if status is not BatchStatus.RUNNING:
                return
            if made is not None:
                break
    except BudgetExceeded as exc:
        await asyncio.to_thread(_set_item_error, ws, item_id, str(exc))
        await asyncio.to_thread(functools.partial(set_batch_status, ws, batch_id, BatchStatus.PAUSED, by_budget=True))
        return
    except ImagegenError as exc:  # e.g. this worker has no key for the provider: the agent says why
        await asyncio.to_thread(_finish_item, ws, item_id, BatchItemStatus.FAILED, str(exc))
    await asyncio.to_thread(_end_batch, ws, batch_id)


def follow_batch(ws: "Workspace", batch_id: int, on_progress: Progress | None = None, poll: float = 0.5) -> BatchStatus:
    """Watch a batch that workers run until it stops running, reporting progress from the database."""
    progress: Throughput | None = None
    while True:
        with ws.session() as s:
            summary = batch_summary(s, batch_id)
            images = s.scalar(select(func.count()).select_from(BatchItem).join(Generation, Generation.id == BatchItem.generation_id)
                              .join(Candidate, Candidate.generation_id == Generation.id)
                              .where(BatchItem.batch_id == batch_id, Candidate.status == CandidateStatus.SUCCEEDED))
        status, done, total = summary.batch.status, summary.finished, summary.total
        if progress is None:
            progress = Throughput(done, total, 0, time.monotonic(), done)
            first_images = images
        if on_progress and (done, images - first_images) != (progress.done, progress.images):
            progress.done, progress.images = done, images - first_images
            on_progress(progress, "")
        # Stopped (paused, canceled, done): an agent whose job had started goes on to its end on
        # its worker (a budget pause lets the calls already reserved be made). It is waited for
        # while its worker lives, so what this returns counts it.
        if status is not BatchStatus.RUNNING and not _agents_in_flight(ws, batch_id):
            return status
        time.sleep(poll)


def _agents_in_flight(ws: "Workspace", batch_id: int) -> bool:
    """Whether an agent of the batch is still open and its runner alive: its job under way with
    a live lease, or just ended and its agent being closed (an approval, a failure's record).
    A dead runner is not waited for once its lease would have run out; an agent a Pause held
    back (its job interrupted) stays pending, and is not waited for either."""
    with ws.session() as s:
        rows = s.execute(select(Generation.status, Generation.lease_until, Generation.finished_at)
                         .join(BatchItem, BatchItem.generation_id == Generation.id)
                         .where(BatchItem.batch_id == batch_id, BatchItem.status == BatchItemStatus.PENDING))
        now, lease = utcnow(), timedelta(seconds=ws.settings.lease_seconds)
        for status, until, finished in rows:
            if not status.finished and not expired(until, now):
                return True  # under way, its runner renewing the lease
            if status.finished and status is not GenerationStatus.INTERRUPTED and not expired(finished and finished + lease, now):
                return True  # just ended, its agent being closed
        return False


def _end_batch(ws: "Workspace", batch_id: int) -> BatchStatus:
    with ws.session() as s, s.begin():
        batch = s.get(Batch, batch_id)
        if batch.status is BatchStatus.RUNNING:
            # Every worker's job asks this as its agent ends: an index lookup, whatever the batch's size.
            # Each job commits its own item first, so of two jobs ending together the later one sees both.
            pending = s.scalar(select(exists().where(BatchItem.batch_id == batch_id, BatchItem.status == BatchItemStatus.PENDING)))
            if not pending:
                transition(batch, BatchStatus.DONE)
                batch.finished_at = utcnow()
        batch.lease_until = None
        return batch.status


def _prepare_item(ws: "Workspace", item_id: int, choices: dict, actor: Actor) -> tuple[BatchStatus, str, int | None, Job | None]:
    """(the batch's status, agent slug, generation id to run, the job if it is new: recorded and
    claimed in one write). The status is read with the item, and nothing starts unless it says
    running; the generation id is None then, or when the item failed before its job."""
    with ws.session() as s:  # one read: the item, its agent and its batch's status
        item, status = s.execute(select(BatchItem, Batch.status).join(BatchItem.batch).where(BatchItem.id == item_id)).one()
        agent, generation_id = item.agent, item.generation_id
    if status is not BatchStatus.RUNNING:
        return status, agent.slug, None, None
    if generation_id is None:
        try:
            spec = make_spec(ws, agent, **choices)
        except BudgetExceeded:
            raise
        except ImagegenError as exc:
            _finish_item(ws, item_id, BatchItemStatus.FAILED, str(exc))
            return status, agent.slug, None, None
        job = start_claimed(ws, agent, spec, batch_item_id=item_id, actor=actor)
        return status, agent.slug, job.id, job
    requeue_interrupted(ws, generation_id)  # a job cut short by a restart picks up where it stopped
    return status, agent.slug, generation_id, None


async def _run_item(ws: "Workspace", batch_id: int, item_id: int, choices: dict, auto_approve: bool, actor: Actor) -> tuple[BatchStatus, str, int | None]:
    """Run one agent's job if the batch is still running; returns the batch's status as the agent
    started, its slug and how many images it made: None if the batch was not running (nothing
    started) or a Pause held its job back before it sent anything (the item stays pending, the
    job interrupted)."""
    preparing = asyncio.ensure_future(asyncio.to_thread(_prepare_item, ws, item_id, choices, actor))
    try:
        batch_status, slug, generation_id, job = await asyncio.shield(preparing)
    except asyncio.CancelledError:  # a shutdown while its job was being recorded and claimed: not left claimed, never run
        with contextlib.suppress(Exception):
            job = (await preparing)[3]
            if job is not None:
                await asyncio.to_thread(end_stopped, ws, job.id)
        raise
    if batch_status is not BatchStatus.RUNNING:
        return batch_status, slug, None
    if generation_id is None:
        return batch_status, slug, 0
    go_ahead = functools.partial(may_go_ahead, ws, batch_id)
    if job is not None:
        made: list[int] = []

        def close_item(s: Session, gen: Generation) -> None:  # the common case: the agent closes with its job, in one write
            item = _item_row(s, item_id)
            if item.status.can_become(BatchItemStatus.DONE):  # else the slower path below says why, after the job's own write
                transition(item, BatchItemStatus.DONE)
                item.error = None
                made.append(sum(c.status is CandidateStatus.SUCCEEDED for c in gen.candidates))

        await run_generation(ws, generation_id, go_ahead=go_ahead, on_success=None if auto_approve else close_item, claimed=job)
        if made:
            return batch_status, slug, made[0]
    outcome = await asyncio.to_thread(_generation_outcome, ws, generation_id)
    if not outcome[0].finished:
        await run_generation(ws, generation_id, go_ahead=go_ahead)
        outcome = await asyncio.to_thread(_generation_outcome, ws, generation_id)
    status, error, ids = outcome
    if status is GenerationStatus.INTERRUPTED:
        return batch_status, slug, None
    if status is GenerationStatus.SUCCEEDED:
        if auto_approve:  # idempotent: the approval is recorded on the item, and an approved item keeps its approval
            await asyncio.to_thread(approve_candidate, ws, ids[0], actor=actor, batch_item_id=item_id)
        await asyncio.to_thread(_finish_item, ws, item_id, BatchItemStatus.DONE, None)
    else:
        await asyncio.to_thread(_finish_item, ws, item_id, BatchItemStatus.FAILED, error or f"The generation ended {status.value}.")
    return batch_status, slug, len(ids)


def _generation_outcome(ws: "Workspace", generation_id: int) -> tuple[GenerationStatus, str | None, list[int]]:
    """A job's status, error and the ids of its candidates that succeeded, in order: two short
    reads, not the job with its agent and every candidate (each agent of a batch asks twice)."""
    with ws.session() as s:
        status, error = s.execute(select(Generation.status, Generation.error).where(Generation.id == generation_id)).one()
        made = list(s.scalars(select(Candidate.id).where(Candidate.generation_id == generation_id,
                                                         Candidate.status == CandidateStatus.SUCCEEDED).order_by(Candidate.position)))
    return status, error, made


def _finish_item(ws, item_id: int, status: BatchItemStatus, error: str | None) -> None:
    with ws.session() as s, s.begin():
        item = _item_row(s, item_id)
        transition(item, status)
        item.error = error


def _item_row(s: Session, item_id: int) -> BatchItem:
    return s.get(BatchItem, item_id, options=[lazyload(BatchItem.agent)])  # the item's own row, without its agent


def _set_item_error(ws, item_id: int, error: str) -> None:
    with ws.session() as s, s.begin():
        _item_row(s, item_id).error = error


def recover_batches(ws: "Workspace") -> int:
    """Running batches whose runner's lease expired are paused, ready to resume. A live lease is left alone."""
    now = utcnow()
    count = 0
    with ws.session() as s, s.begin():
        for batch in s.scalars(select(Batch).where(Batch.status == BatchStatus.RUNNING)).all():
            if batch.lease_owner is None and not expired(batch.created_at + timedelta(seconds=ws.settings.lease_seconds), now):
                continue  # just created, its runner not yet started
            if batch.lease_owner is not None and not expired(batch.lease_until, now):
                continue
            transition(batch, BatchStatus.PAUSED)
            count += 1
    return count


def batch_generations(ws: "Workspace", batch_id: int) -> list[tuple[BatchItem, Generation | None]]:
    """Each item with its generation, for review."""
    with ws.session() as s:
        items = list(s.scalars(select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(BatchItem.id)))
        if not items and s.get(Batch, batch_id) is None:
            raise NotFound(f"No batch {batch_id}.")
        gens = {g.id: g for g in s.scalars(select(Generation).where(Generation.id.in_([i.generation_id for i in items if i.generation_id])))}
        return [(i, gens.get(i.generation_id)) for i in items]
