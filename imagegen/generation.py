"""Generating candidates: a job is a Generation row; each candidate is saved the moment it lands.

`start_generation` records the job; `run_generation` does the work on an asyncio loop
(the CLI's own, or the JobRunner's thread under the app); `recover_interrupted` marks
what a dead process left running. One candidate failing never costs the others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
import threading
from dataclasses import dataclass
from datetime import timezone
from typing import TYPE_CHECKING

from sqlalchemy import select

from imagegen.costs import check_budget, price_table, unit_price
from imagegen.errors import ImagegenError, InvalidInput, MissingKeyError
from imagegen.images import check_image, embed_recipe
from imagegen.prompts import agent_text
from imagegen.providers import ImageRequest, ProviderImage, has_key, provider_class
from imagegen.records import (
    MAX_SEED,
    Agent,
    BatchItem,
    Candidate,
    CandidateStatus,
    Generation,
    GenerationSource,
    GenerationSpec,
    GenerationStatus,
    check_transition,
    utcnow,
)

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

log = logging.getLogger(__name__)


def start_generation(
    ws: "Workspace", agent_slug: str, spec: GenerationSpec, *, experiment_id: int | None = None,
    cell: dict | None = None, batch_item_id: int | None = None, source: GenerationSource | None = None,
) -> int:
    """Record a queued job with one queued candidate per image; returns the generation id.
    Paid work past the daily budget, an unknown provider and a provider without its key are
    refused here, before anything is written (a refused attempt leaves no board behind)."""
    cls = provider_class(spec.provider)
    if not has_key(cls, ws.settings):
        raise MissingKeyError(cls.name, cls.key_env_var or "")
    check_budget(ws, spec)
    if source is None:
        source = GenerationSource.EXPERIMENT if experiment_id else GenerationSource.BATCH if batch_item_id else GenerationSource.STUDIO
    if spec.seed is None:
        spec = spec.model_copy(update={"seed": random.randrange(0, MAX_SEED - MAX_SEED // 100)})
    with ws.session() as s, s.begin():
        agent = ws.get_agent(agent_slug, session=s)
        gen = Generation(
            agent_id=agent.id, spec=spec.model_dump(mode="json"), experiment_id=experiment_id, cell=cell, source=source
        )
        s.add(gen)
        s.flush()
        for i in range(spec.count):
            s.add(Candidate(generation_id=gen.id, position=i, seed=(spec.seed + i) % (MAX_SEED + 1)))
        if batch_item_id is not None:  # in the same transaction: a batch item never loses track of its job
            s.get(BatchItem, batch_item_id).generation_id = gen.id
        return gen.id


def run_to_completion(ws: "Workspace", generation_id: int) -> GenerationStatus:
    """Run one job on a fresh event loop in this thread (the CLI, scripts, tests), then close
    the provider clients that loop opened."""

    async def run() -> GenerationStatus:
        try:
            return await run_generation(ws, generation_id)
        finally:
            await ws.aclose_providers()

    return asyncio.run(run())


def requeue_interrupted(ws: "Workspace", generation_id: int) -> bool:
    """Make an interrupted job runnable again: its unfinished candidates go back to the queue.
    Finished candidates are kept, so a resumed job pays only for what it never got."""
    with ws.session() as s, s.begin():
        gen = s.get(Generation, generation_id)
        if gen.status is not GenerationStatus.INTERRUPTED:
            return False
        check_transition(gen.status, GenerationStatus.QUEUED)
        gen.status, gen.error, gen.finished_at, gen.started_at = GenerationStatus.QUEUED, None, None, None
        for cand in gen.candidates:
            if cand.status is CandidateStatus.INTERRUPTED:
                check_transition(cand.status, CandidateStatus.QUEUED)
                cand.status, cand.error = CandidateStatus.QUEUED, None
        return True


def latest_generation(ws: "Workspace", agent_slug: str) -> int | None:
    """The newest generation id for an agent, so a refreshed page finds its results again."""
    with ws.session() as s:
        agent = ws.get_agent(agent_slug, session=s)
        return s.scalar(select(Generation.id).where(Generation.agent_id == agent.id).order_by(Generation.id.desc()).limit(1))


def reroll_candidate(ws: "Workspace", candidate_id: int) -> int:
    """Queue one new candidate with the same recipe and a fresh seed; returns its candidate id."""
    with ws.session() as s:
        cand = s.get(Candidate, candidate_id)
        gen = cand.generation
        spec = gen.recipe.model_copy(update={"count": 1, "seed": None})
        slug = gen.agent.slug
    new_generation = start_generation(ws, slug, spec)
    return ws.get_generation(new_generation).candidates[0].id


def upscale_candidate(ws: "Workspace", candidate_id: int) -> int:
    """Queue an upscale of a finished candidate as a new one-candidate generation; returns its id."""
    with ws.session() as s:
        cand = s.get(Candidate, candidate_id)
        if cand is None or not cand.image_key:
            raise InvalidInput(f"Candidate {candidate_id} has no image to upscale.")
        gen = cand.generation
        if not provider_class(gen.recipe.provider).supports_upscale:
            raise InvalidInput(f"The {gen.recipe.provider} provider cannot upscale.")
        spec = gen.recipe.model_copy(update={"count": 1, "seed": cand.seed, "options": {**gen.recipe.options, "upscale_of": candidate_id}})
        slug = gen.agent.slug
    return start_generation(ws, slug, spec)


@dataclass
class _Chunk:
    candidate_ids: list[int]
    seed: int


async def run_generation(ws: "Workspace", generation_id: int) -> GenerationStatus:
    """Run a queued job to its end. Safe to cancel: unfinished candidates become canceled."""
    with ws.session() as s, s.begin():
        gen = s.get(Generation, generation_id)
        check_transition(gen.status, GenerationStatus.RUNNING)
        gen.status, gen.started_at, gen.worker_pid = GenerationStatus.RUNNING, utcnow(), os.getpid()
        spec = gen.recipe
        agent = s.get(Agent, gen.agent_id)
        agent_slug = agent.slug
        text = agent_text(agent.name, agent.description, agent.sub_heading, agent.categories, agent.short_title)
        candidates = [(c.id, c.seed) for c in gen.candidates if c.status is CandidateStatus.QUEUED]
        source_id = spec.options.get("upscale_of")
        source = s.get(Candidate, source_id) if source_id else None
    source_image = ws.media.get(source.image_key) if source is not None and source.image_key else None

    try:
        provider = ws.provider(spec.provider)
        limit = ws.limiter(spec.provider)
        per_call = max(1, min(provider.images_per_call(spec.model), limit.capacity))
    except ImagegenError as exc:
        _finish_candidates(ws, [cid for cid, _ in candidates], CandidateStatus.FAILED, str(exc))
        return _finish_generation(ws, generation_id, error=str(exc))

    recipe = {"agent": agent_slug, **spec.model_dump(mode="json")}  # what every image carries; never a key
    seeds = dict(candidates)
    saving: set[asyncio.Task] = set()  # results already paid for, being checked and stored
    chunks = [
        _Chunk([cid for cid, _ in candidates[i : i + per_call]], candidates[i][1])
        for i in range(0, len(candidates), per_call)
    ]

    async def run_chunk(chunk: _Chunk) -> None:
        async with limit.hold(len(chunk.candidate_ids)):
            _set_status(ws, chunk.candidate_ids, CandidateStatus.RUNNING)
            request = ImageRequest(
                agent=text,
                prompt=spec.prompt,
                aspect_ratio=spec.aspect_ratio,
                seed=chunk.seed,
                count=len(chunk.candidate_ids),
                palette=spec.palette,
                negative_prompt=spec.negative_prompt,
                style=spec.style,
                magic_prompt=spec.magic_prompt,
                model=spec.model,
                options=spec.options,
                source_image=source_image,
            )
            try:
                results = await provider.generate(request)
            except ImagegenError as exc:
                _finish_candidates(ws, chunk.candidate_ids, CandidateStatus.FAILED, str(exc))
                return
            except Exception as exc:  # a provider bug must not take the other chunks down
                log.exception("provider %s crashed", spec.provider)
                _finish_candidates(ws, chunk.candidate_ids, CandidateStatus.FAILED, f"The provider failed unexpectedly ({type(exc).__name__}).")
                return
        missing = ProviderImage(error="The provider returned fewer images than asked for.")
        padded = results + [missing] * (len(chunk.candidate_ids) - len(results))
        # Shielded: a Cancel that arrives now must not lose an image that was paid for.
        task = asyncio.ensure_future(asyncio.gather(*(
            _save_result(ws, cid, result, {**recipe, "seed": seeds[cid]}) for cid, result in zip(chunk.candidate_ids, padded)
        )))
        saving.add(task)
        await asyncio.shield(task)

    try:
        await asyncio.gather(*(run_chunk(c) for c in chunks))
    except asyncio.CancelledError:
        await asyncio.gather(*saving, return_exceptions=True)
        _finish_unfinished(ws, generation_id, CandidateStatus.CANCELED, "Canceled before it finished.")
        _finish_generation(ws, generation_id, status=GenerationStatus.CANCELED)
        raise
    return _finish_generation(ws, generation_id)


async def _save_result(ws: "Workspace", candidate_id: int, result: ProviderImage, recipe: dict) -> None:
    if result.blocked:
        _finish_candidates(ws, [candidate_id], CandidateStatus.BLOCKED, "Blocked by the provider's safety filter.", seed=result.seed, prompt=result.prompt)
        return
    if result.data is None:
        _finish_candidates(ws, [candidate_id], CandidateStatus.FAILED, result.error or "No image was returned.", seed=result.seed, prompt=result.prompt)
        return
    try:
        checked = await asyncio.to_thread(
            check_image, result.data, max_bytes=ws.settings.max_image_bytes, max_pixels=ws.settings.max_image_pixels
        )
        seed = result.seed if result.seed is not None else recipe["seed"]
        stamped = embed_recipe(checked.data, checked.format, {**recipe, "seed": seed, "count": 1})
        key = await asyncio.to_thread(ws.media.put, stamped, checked.format)
    except ImagegenError as exc:
        _finish_candidates(ws, [candidate_id], CandidateStatus.FAILED, str(exc), seed=result.seed, prompt=result.prompt)
        return
    with ws.session() as s, s.begin():
        cand = s.get(Candidate, candidate_id)
        check_transition(cand.status, CandidateStatus.SUCCEEDED)
        cand.status, cand.image_key, cand.finished_at = CandidateStatus.SUCCEEDED, key, utcnow()
        cand.width, cand.height = checked.width, checked.height
        cand.seed = result.seed if result.seed is not None else cand.seed
        cand.provider_prompt = result.prompt


def _set_status(ws: "Workspace", ids: list[int], status: CandidateStatus) -> None:
    with ws.session() as s, s.begin():
        for cand in s.scalars(select(Candidate).where(Candidate.id.in_(ids))):
            check_transition(cand.status, status)
            cand.status = status


def _finish_candidates(ws, ids, status, error, *, seed=None, prompt=None) -> None:
    with ws.session() as s, s.begin():
        for cand in s.scalars(select(Candidate).where(Candidate.id.in_(ids))):
            if cand.status.finished:
                continue
            cand.status, cand.error, cand.finished_at = status, error, utcnow()
            if seed is not None:
                cand.seed = seed
            cand.provider_prompt = prompt or cand.provider_prompt


def _finish_unfinished(ws, generation_id: int, status: CandidateStatus, error: str) -> None:
    with ws.session() as s:
        ids = list(s.scalars(select(Candidate.id).where(Candidate.generation_id == generation_id)))
    _finish_candidates(ws, ids, status, error)


def _finish_generation(ws, generation_id: int, *, status: GenerationStatus | None = None, error: str | None = None) -> GenerationStatus:
    with ws.session() as s, s.begin():
        gen = s.get(Generation, generation_id)
        if status is None:
            outcomes = [c.status for c in gen.candidates]
            status = GenerationStatus.SUCCEEDED if CandidateStatus.SUCCEEDED in outcomes else GenerationStatus.FAILED
        if status is GenerationStatus.FAILED and error is None:
            error = next((c.error for c in gen.candidates if c.error), None)
        if gen.status.finished:
            return gen.status
        gen.status, gen.error, gen.finished_at = status, error, utcnow()
        # Spend: every image the provider made is paid for, whether shown or blocked.
        made = sum(c.status in (CandidateStatus.SUCCEEDED, CandidateStatus.BLOCKED) for c in gen.candidates)
        gen.cost_usd = unit_price(price_table(ws.settings.prices), gen.recipe) * made
        return status


def recover_interrupted(ws: "Workspace") -> int:
    """Mark jobs whose process is gone as interrupted; their finished candidates stay."""
    count = 0
    with ws.session() as s, s.begin():
        stale = s.scalars(
            select(Generation).where(Generation.status.in_([GenerationStatus.QUEUED, GenerationStatus.RUNNING]))
        ).all()
        for gen in stale:
            if gen.status is GenerationStatus.QUEUED and gen.worker_pid is None and gen.started_at is None:
                # Queued and never picked up: only the process that queued it knew about it.
                created = gen.created_at if gen.created_at.tzinfo else gen.created_at.replace(tzinfo=timezone.utc)
                if (utcnow() - created).total_seconds() < 60:
                    continue
            elif gen.worker_pid is not None and process_alive(gen.worker_pid):
                continue
            gen.status, gen.finished_at = GenerationStatus.INTERRUPTED, utcnow()
            gen.error = "Interrupted: the process running it stopped. Finished candidates were kept."
            for cand in gen.candidates:
                if not cand.status.finished:
                    cand.status, cand.error = CandidateStatus.INTERRUPTED, "Interrupted before it finished."
            count += 1
    return count


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a job of ours that this fresh process does not run
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ImageLimiter:
    """A weighted semaphore: at most `capacity` images in flight; a call holds as many as it asks for.

    Ideogram counts its in-flight limit in images, not requests, so one 8-image request and
    two single-image ones must share the same budget."""

    def __init__(self, capacity: int):
        self.capacity = max(1, capacity)
        self._used = 0
        self._waiters: list[asyncio.Future] = []

    @contextlib.asynccontextmanager
    async def hold(self, images: int):
        images = min(images, self.capacity)
        while self._used + images > self.capacity:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
        self._used += images
        try:
            yield
        finally:
            # Synchronous release: a cancellation here cannot leak capacity.
            self._used -= images
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)


class JobRunner:
    """Runs generations on one asyncio loop in a daemon thread, outside any UI script thread.

    Jobs belong to the process, not to a browser session: a rerun, a refresh or a closed
    tab does not touch them. `cancel` is the only way to stop one early.
    """

    def __init__(self, ws: "Workspace"):
        self._ws = ws
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._jobs: dict[tuple[str, int], concurrent.futures.Future] = {}

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="imagegen-jobs", daemon=True).start()
                self._loop = loop
            return self._loop

    def submit(self, generation_id: int) -> concurrent.futures.Future:
        return self._start(("generation", generation_id), run_generation(self._ws, generation_id))

    def submit_batch(self, batch_id: int) -> concurrent.futures.Future:
        from imagegen.batch import run_batch

        return self._start(("batch", batch_id), run_batch(self._ws, batch_id))

    def _start(self, key: tuple[str, int], coroutine) -> concurrent.futures.Future:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._ensure_loop())
        with self._lock:
            self._jobs[key] = future
        future.add_done_callback(lambda _f: self._forget(key))
        return future

    def _forget(self, key: tuple[str, int]) -> None:
        with self._lock:
            self._jobs.pop(key, None)

    def cancel(self, generation_id: int) -> bool:
        with self._lock:
            future = self._jobs.get(("generation", generation_id))
        return bool(future and future.cancel())

    def wait(self, job_id: int, timeout: float, kind: str = "generation") -> None:
        with self._lock:
            future = self._jobs.get((kind, job_id))
        if future is not None:
            concurrent.futures.wait([future], timeout=timeout)
