"""Generating candidates: a job is a Generation row; each candidate is saved the moment it lands.

`start_generation` records the job and reserves its estimate against the budget;
`run_generation` does the work on an asyncio loop (the CLI's own, or the JobRunner's thread)
while holding a lease on it; `recover_expired` ends what a runner whose lease expired left.
Every database write, Pillow call and file write runs in a worker thread, never on the loop.
One candidate failing never costs the others, and any error ends the job with a reason.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, lazyload

from imagegen.auth import Actor, local_admin, require
from imagegen.costs import check_budget, price_table, unit_price
from imagegen.errors import ImagegenError, InvalidInput, MissingKeyError, NotFound
from imagegen.images import THUMBNAIL_SIDE, check_image, embed_recipe, make_thumbnail
from imagegen.leases import expired, held, lease_until
from imagegen.prompts import agent_text
from imagegen.providers import ImageRequest, ProviderImage, has_key, provider_class
from imagegen.providers.local import LocalProvider, variation_seeds
from imagegen.review import is_upload
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
    transition,
    utcnow,
)
from imagegen.storage.db import lock_for_write

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

log = logging.getLogger(__name__)
PAID = (CandidateStatus.SUCCEEDED, CandidateStatus.BLOCKED)  # every image the provider made is paid for
HELD_BACK = "Paused before it was sent; it goes out when the batch resumes."
STOPPED = "Stopped before it finished (the app or worker was shut down); resuming the batch makes it."


def raise_first(outcomes: list) -> None:
    """`asyncio.gather(..., return_exceptions=True)`'s results: raise the first error among them.
    Every awaitable has ended by then, where a plain gather raises at the first error and leaves
    the others running with nobody waiting for them."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def start_generation(
    ws: "Workspace", agent_slug: str, spec: GenerationSpec, *, experiment_id: int | None = None,
    cell: dict | None = None, batch_item_id: int | None = None, source: GenerationSource | None = None,
    actor: Actor | None = None, seeds: list[int] | None = None, board_id: int | None = None, replaces_id: int | None = None,
) -> int:
    """Record a queued job with one queued candidate per image; returns the generation id.

    An unknown provider and a provider without its key are refused before anything is
    written (a refused attempt leaves no board behind). The budget check and the reservation
    of the estimate happen in one write transaction, so concurrent processes cannot pass the
    daily budget. The job is leased to this runner. `actor` defaults to the local admin (the
    CLI, open mode). `seeds` gives each candidate its own seed (a local variation's layout);
    `board_id` adds the job to that board, in place of candidate `replaces_id` if given."""
    spec, record = _checked(ws, spec, actor, experiment_id=experiment_id, batch_item_id=batch_item_id, source=source)
    with ws.session() as s, s.begin():
        return _insert(s, ws, agent_slug, spec, record, seeds=seeds, experiment_id=experiment_id, cell=cell,
                       batch_item_id=batch_item_id, board_id=board_id, replaces_id=replaces_id)[0].id


def start_claimed(ws: "Workspace", agent: Agent, spec: GenerationSpec, *, batch_item_id: int, actor: Actor) -> Job:
    """`start_generation` and `run_generation`'s claim in one write, for a runner that runs the
    job at once (a batch's agent, read with its item and passed here, not read again): pass the
    result to `run_generation` as `claimed`."""
    spec, record = _checked(ws, spec, actor, batch_item_id=batch_item_id)
    with ws.session() as s, s.begin():
        gen, candidates = _insert(s, ws, agent, spec, record, batch_item_id=batch_item_id, running=True)
        return _job(s, ws, gen, candidates, agent=agent)


def _checked(ws: "Workspace", spec: GenerationSpec, actor: Actor | None, *, experiment_id=None, batch_item_id=None, source=None) -> tuple[GenerationSpec, dict]:
    """Refusals before anything is written; the spec with its seed, and the job's own columns."""
    actor = require(actor or local_admin(ws.settings), "generate")
    cls = provider_class(spec.provider)
    if not has_key(cls, ws.settings):
        raise MissingKeyError(cls.name, cls.key_env_var or "")
    if source is None:
        source = GenerationSource.EXPERIMENT if experiment_id else GenerationSource.BATCH if batch_item_id else GenerationSource.STUDIO
    if spec.seed is None:
        spec = spec.model_copy(update={"seed": random.randrange(0, MAX_SEED - MAX_SEED // 100)})
    return spec, {"source": source, "created_by": actor.email}


def _insert(s: Session, ws: "Workspace", agent: Agent | str, spec: GenerationSpec, record: dict, *, seeds: list[int] | None = None,
            batch_item_id: int | None = None, running: bool = False, **columns) -> tuple[Generation, list[tuple[int, int]]]:
    """The job and its candidates, queued, or `running` here already (recorded as claimed):
    the job's row, and its candidates' (id, seed) in order.
    `agent`: its slug, or the row itself as the caller read it (only its id is written)."""
    lock_for_write(s)
    agent_id = ws.get_agent(agent, session=s).id if isinstance(agent, str) else agent.id
    cost = check_budget(ws, spec, s)
    gen = Generation(agent_id=agent_id, spec=spec.model_dump(mode="json"), reserved_usd=cost, lease_owner=ws.owner,
                     lease_until=lease_until(ws), status=GenerationStatus.QUEUED, **record, **columns)
    if running:  # claimed before its first write: inserted as running, no queued row in between
        transition(gen, GenerationStatus.RUNNING)
        gen.started_at = utcnow()
    s.add(gen)
    s.flush()
    # Its candidates in one statement, on the table (the unit of work would send one INSERT each on SQLite),
    # put in order here: returning(sort_by_parameter_order=True) also sends one INSERT each on SQLite.
    status = CandidateStatus.RUNNING if running else CandidateStatus.QUEUED
    table, db = Candidate.__table__, s.connection()
    made = db.execute(table.insert().returning(table.c.id, table.c.position, table.c.seed),
                      [{"generation_id": gen.id, "position": i, "status": status,
                        "seed": seeds[i] if seeds else (spec.seed + i) % (MAX_SEED + 1)} for i in range(spec.count)])
    if batch_item_id is not None:  # in the same transaction: a batch item never loses track of its job
        items = BatchItem.__table__
        db.execute(items.update().where(items.c.id == batch_item_id).values(generation_id=gen.id))
    return gen, [(cid, seed) for cid, _, seed in sorted(made, key=lambda row: row[1])]


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
    """Make an interrupted job runnable again, leased to this runner: its unfinished candidates
    go back to the queue. Finished (and adopted) candidates are kept, so a resumed job pays
    only for what it never got."""
    with ws.session() as s, s.begin():
        lock_for_write(s)
        gen = s.get(Generation, generation_id)
        if gen.status is not GenerationStatus.INTERRUPTED:
            return False
        again = [c for c in gen.candidates if c.status is CandidateStatus.INTERRUPTED]
        if again:  # what is still to pay is reserved against today's budget, like a new job
            gen.reserved_usd = check_budget(ws, gen.recipe.model_copy(update={"count": len(again)}), s)
            gen.charged_at = utcnow()  # its whole cost counts today, what it paid before too
        transition(gen, GenerationStatus.QUEUED)
        gen.error, gen.finished_at, gen.started_at = None, None, None
        gen.lease_owner, gen.lease_until = ws.owner, lease_until(ws)
        for cand in again:
            transition(cand, CandidateStatus.QUEUED)
            cand.error = None
        return True


def latest_generation(ws: "Workspace", agent_slug: str) -> int | None:
    """The newest generation id for an agent, so a refreshed page finds its results again."""
    with ws.session() as s:
        agent = ws.get_agent(agent_slug, session=s)
        return s.scalar(select(Generation.id).where(Generation.agent_id == agent.id).order_by(Generation.id.desc()).limit(1))


def reroll_candidate(ws: "Workspace", candidate_id: int, *, actor: Actor | None = None) -> int:
    """Queue one new candidate with the same recipe and a fresh seed; returns its candidate id."""
    with ws.session() as s:
        cand = s.get(Candidate, candidate_id)
        if cand is None:
            raise NotFound(f"No candidate {candidate_id}.")
        gen = cand.generation
        spec = gen.recipe.model_copy(update={"count": 1, "seed": None})
        slug, board = gen.agent.slug, gen.board_id or gen.id
    # It joins the card's board in its place, so that board is the agent's newest and holds it.
    new_generation = start_generation(ws, slug, spec, actor=actor, board_id=board, replaces_id=candidate_id)
    return ws.get_generation(new_generation).candidates[0].id


def upscale_candidate(ws: "Workspace", candidate_id: int, *, actor: Actor | None = None) -> int:
    """Queue an upscale of a finished candidate as a new one-candidate generation; returns its id."""
    with ws.session() as s:
        cand = s.get(Candidate, candidate_id)
        if cand is None or not cand.image_key:
            raise InvalidInput(f"Candidate {candidate_id} has no image to upscale.")
        gen = cand.generation
        if not provider_class(gen.recipe.provider).supports_upscale:
            raise InvalidInput(f"The {gen.recipe.provider} provider cannot upscale.")
        spec = gen.recipe.model_copy(update={"count": 1, "seed": cand.seed, "options": {**gen.recipe.options, "upscale_of": candidate_id}})
        slug, board = gen.agent.slug, gen.board_id or gen.id
    return start_generation(ws, slug, spec, actor=actor, board_id=board)


def vary_candidate(ws: "Workspace", candidate_id: int, *, actor: Actor | None = None) -> int:
    """Queue a new set near one candidate, as many as its recipe made; returns the generation id.
    Each provider varies its own way (Ideogram remixes the image, Flux 1.1 Pro takes it as an
    image prompt, the local renderer keeps the layout with nearby seeds); the recipe names the
    parent in `options["vary_of"]`."""
    with ws.session() as s:
        cand = s.get(Candidate, candidate_id)
        if cand is None or not cand.image_key:
            raise InvalidInput(f"Candidate {candidate_id} has no image to vary.")
        gen = cand.generation
        recipe = gen.recipe
        cls = provider_class(recipe.provider)
        if is_upload(recipe) or not cls.can_vary(recipe.model):
            raise InvalidInput(vary_refusal(recipe))
        options = {k: v for k, v in recipe.options.items() if k != "upscale_of"}
        # Remote providers vary from the image itself; the offline renderer has only its seed.
        seeds = variation_seeds(cand.seed, recipe.count) if cls is LocalProvider else None
        spec = recipe.model_copy(update={"seed": seeds[0] if seeds else None, "options": {**options, "vary_of": candidate_id}})
        slug = gen.agent.slug
    return start_generation(ws, slug, spec, actor=actor, seeds=seeds)


def vary_refusal(recipe: GenerationSpec) -> str | None:
    """Why a candidate made with this recipe cannot be varied, or None when it can."""
    if is_upload(recipe):
        return "Your own image has no recipe to vary."
    cls = provider_class(recipe.provider)
    if not cls.can_vary(recipe.model):
        return f"{recipe.model or cls.label} cannot make variations of an image."
    return None


@dataclass
class _Chunk:
    candidate_ids: list[int]
    seed: int


@dataclass
class Job:
    """A job this runner has claimed: what its calls need, read in the claim's own write."""

    id: int
    spec: GenerationSpec
    agent_slug: str
    text: object
    candidates: list[tuple[int, int]]  # (candidate id, seed) still to make
    source_key: str | None
    watched: bool  # a studio job: a curator waits for its cards
    batch: bool  # a batch agent's job: a resume runs what a kill interrupted


@dataclass(frozen=True)
class Landed:
    """A checked, stamped image: what its candidate's row says of it once it is recorded."""

    candidate_id: int
    key: str
    format: str
    byte_size: int
    width: int
    height: int
    seed: int
    prompt: str | None

    def describe(self, cand: Candidate) -> None:
        cand.format, cand.byte_size, cand.width, cand.height = self.format, self.byte_size, self.width, self.height
        cand.seed, cand.provider_prompt = self.seed, self.prompt

    def record(self, cand: Candidate) -> None:
        transition(cand, CandidateStatus.SUCCEEDED)
        self.describe(cand)
        cand.image_key, cand.pending_key, cand.finished_at = self.key, None, utcnow()


def _claim(ws: "Workspace", generation_id: int) -> Job:
    with ws.session() as s, s.begin():
        gen = s.get(Generation, generation_id)
        if gen is None:
            raise NotFound(f"No generation {generation_id}.")
        transition(gen, GenerationStatus.RUNNING)
        gen.started_at, gen.lease_owner, gen.lease_until = utcnow(), ws.owner, lease_until(ws)
        # Its candidates run from here, in the same write: none waits for the provider's budget
        # behind a write of its own, and no later write can undo a Cancel's.
        todo = [c for c in gen.candidates if c.status is CandidateStatus.QUEUED]
        for cand in todo:
            transition(cand, CandidateStatus.RUNNING)
        return _job(s, ws, gen, [(c.id, c.seed) for c in todo])


def _job(s: Session, ws: "Workspace", gen: Generation, todo: list[tuple[int, int]], *, agent: Agent | None = None) -> Job:
    """`todo`: (candidate id, seed) of the candidates it is to make."""
    spec, agent = gen.recipe, agent or gen.agent  # the caller's row, or loaded with the job
    source_id = spec.options.get("upscale_of") or spec.options.get("vary_of")
    source = s.get(Candidate, source_id) if source_id else None
    return Job(
        gen.id, spec, agent.slug,
        agent_text(agent.name, agent.description, agent.sub_heading, agent.categories, agent.short_title),
        todo,
        source.image_key if source is not None else None,
        # Its cards' thumbnails are made as it lands, into this machine's cache, which the
        # pages read when the media is on this machine too (with S3 the job may run elsewhere).
        gen.source is GenerationSource.STUDIO and not ws.media.shared,
        gen.source is GenerationSource.BATCH,
    )


async def run_generation(ws: "Workspace", generation_id: int, *, go_ahead: Callable[[], bool] | None = None,
                         on_success: Callable[[Session, Generation], None] | None = None, claimed: Job | None = None) -> GenerationStatus:
    """Run a queued job (or one `claimed` already) to its end under this runner's lease. Safe to
    cancel: unfinished candidates become canceled. Any other error ends the job failed, with the reason, and is logged.

    `go_ahead()` (a batch's "still running?") is asked once, when the job's first call to a paid
    provider has its turn and its share of the provider's budget: if it says no, nothing is sent
    and the job ends interrupted, to be resumed like one cut short by a restart, paying only once.

    `on_success(session, generation)` runs in the transaction that records the job succeeded
    (a batch closes its agent there): the two are one write, and a kill cannot split them.
    `claimed`: the job as `start_claimed` recorded it, already this runner's (`generation_id` is its id)."""
    job = claimed if claimed is not None else await asyncio.to_thread(_claim, ws, generation_id)
    async with held(ws, Generation, generation_id):
        saving: set[asyncio.Task] = set()  # results already paid for, being checked and stored
        landed: list[Landed] = []  # stored, to be recorded with the job's end (a local batch job's)
        try:
            await _run(ws, job, saving, landed, go_ahead)
        except asyncio.CancelledError:
            await asyncio.gather(*saving, return_exceptions=True)
            # Nobody cancels a batch agent's job on its own (a batch's Cancel is read between agents):
            # its process is being shut down. It ends interrupted, as after a kill, and the resume makes the rest.
            if job.batch:
                await asyncio.to_thread(end_stopped, ws, generation_id, landed=landed)
            else:
                await asyncio.to_thread(_end_job, ws, generation_id, CandidateStatus.CANCELED, "Canceled before it finished.",
                                        GenerationStatus.CANCELED, landed=landed)
            raise
        except Exception as exc:
            log.exception("generation %s failed", generation_id)
            await asyncio.gather(*saving, return_exceptions=True)
            reason = str(exc) if isinstance(exc, ImagegenError) else f"Stopped by an unexpected error ({type(exc).__name__}); see the log."
            return await asyncio.to_thread(_end_job, ws, generation_id, CandidateStatus.FAILED, reason, None, landed=landed)
        return await asyncio.to_thread(_finish_generation, ws, generation_id, on_success=on_success, landed=landed)


async def _run(ws: "Workspace", job: Job, saving: set[asyncio.Task], landed: list[Landed], go_ahead: Callable[[], bool] | None) -> None:
    spec = job.spec
    source_image = await asyncio.to_thread(ws.media.get, job.source_key) if job.source_key else None
    provider = ws.provider(spec.provider)
    limit = ws.limiter(spec.provider)
    per_call = max(1, min(provider.images_per_call(spec.model), limit.capacity))
    recipe = {"agent": job.agent_slug, **spec.model_dump(mode="json")}  # what every image carries; never a key
    seeds = dict(job.candidates)
    # As few calls as the per-call maximum allows, evenly sized (5 at 4 a call is 3 + 2, not 4 + 1),
    # so no call makes more images, and takes longer, than it must.
    calls = -(-len(job.candidates) // per_call)
    size, extra = divmod(len(job.candidates), calls) if calls else (0, 0)
    bounds = [i * size + min(i, extra) for i in range(calls + 1)]
    chunks = [job.candidates[a:b] for a, b in zip(bounds, bounds[1:])]

    asked: list[asyncio.Future] = []  # the go-ahead read the job's calls share while it is out

    async def may_call() -> bool:
        if go_ahead is None or provider.draws_locally:  # the renderer costs nothing: no read in its way
            return True
        # Calls given their budget together share one read. A call given it after that answer
        # came back waited for budget while a Pause could land: it reads again.
        if not asked or asked[0].done():
            asked[:] = [asyncio.ensure_future(asyncio.to_thread(go_ahead))]
        return await asked[0]

    async def call(ids: list[int], seed: int) -> tuple[list, str | None]:
        """One request to the provider: its pending images, or why it failed."""
        request = ImageRequest(
            agent=job.text, prompt=spec.prompt, aspect_ratio=spec.aspect_ratio, seed=seed, count=len(ids),
            palette=spec.palette, negative_prompt=spec.negative_prompt, style=spec.style,
            magic_prompt=spec.magic_prompt, model=spec.model, options=spec.options, source_image=source_image,
        )
        try:
            return await provider.submit(request), None
        except ImagegenError as exc:
            return [], str(exc)
        except Exception as exc:  # a provider bug must not take the other chunks down
            log.exception("provider %s crashed", spec.provider)
            return [], f"The provider failed unexpectedly ({type(exc).__name__})."

    async def run_chunk(chunk: list[tuple[int, int]], turn) -> None:
        ids = [cid for cid, _ in chunk]
        try:
            # The budget is held only until the answer is in: downloads and saves run after,
            # so the next call (another candidate, job or batch agent) starts at once.
            async with limit.hold(len(ids)):
                if await may_call():
                    fetches, failed = await call(ids, chunk[0][1])
                else:  # a Pause landed while it waited: nothing sent, nothing paid
                    fetches, failed = [], HELD_BACK
        finally:
            turn.call_answered()
        if failed is not None:
            ended = CandidateStatus.INTERRUPTED if failed is HELD_BACK else CandidateStatus.FAILED
            await asyncio.to_thread(_finish_candidates, ws, ids, ended, failed)
            return
        if len(fetches) > len(ids):
            log.warning("%s returned %d images for %d asked; the extra ones are ignored", spec.provider, len(fetches), len(ids))
            for extra in fetches[len(ids):]:
                extra.close()  # never awaited: close it rather than leak a coroutine
        missing = ProviderImage(error="The provider returned fewer images than asked for.")
        padded = fetches[: len(ids)] + [None] * (len(ids) - len(fetches))

        async def fetch_and_save(cid: int, fetch) -> None:
            try:
                result = missing if fetch is None else await fetch
            except ImagegenError as exc:
                result = ProviderImage(error=str(exc))
            except Exception as exc:  # a provider bug costs this image only
                log.exception("provider %s crashed while fetching an image", spec.provider)
                result = ProviderImage(error=f"The provider failed unexpectedly ({type(exc).__name__}).")
            stored = await asyncio.to_thread(_save_result, ws, cid, result, {**recipe, "seed": seeds[cid]}, drawn_here=provider.draws_locally,
                                             store_first=provider.draws_locally and job.batch, card=job.watched)
            if stored is not None:
                landed.append(stored)

        # Each image is stored as soon as it is downloaded. Shielded: a Cancel that arrives now
        # must not lose an image that was paid for. An error is raised only once every image of
        # the answer is stored: the job's end must not fail the others while they are being saved.
        task = asyncio.ensure_future(asyncio.gather(*(fetch_and_save(cid, f) for cid, f in zip(ids, padded)), return_exceptions=True))
        saving.add(task)
        raise_first(await asyncio.shield(task))

    async with ws.turn(len(chunks)) as turn:  # a worker's turn: its calls out, its bookkeeping not in the way
        # Every chunk runs to its end before the job ends (and gives its turn back): one that
        # raises must not leave the others' calls out, uncounted, while the job is marked failed.
        raise_first(await asyncio.gather(*(run_chunk(c, turn) for c in chunks), return_exceptions=True))


def _save_result(ws: "Workspace", candidate_id: int, result: ProviderImage, recipe: dict, *, drawn_here: bool = False,
                 store_first: bool = False, card: bool = False) -> Landed | None:
    """Check, stamp and store one image, in a worker thread.

    The image's key is recorded before its file is written, so a kill in between leaves a row
    that recovery can adopt or clear: two writes. `store_first` (a local batch image: it cost
    nothing, redraws byte for byte from its seed, and the batch's resume draws what a kill
    interrupted) only stores it, and returns it to be recorded with the job's end, in the job's
    last write. An image `drawn_here` (the local renderer) is never decoded to be checked: this
    app's own encoder wrote it. `card`: make its card's thumbnail before it is marked landed, so
    the studio grid that shows it reads a small file instead of decoding the image in the page's run."""
    if result.blocked:
        _finish_candidates(ws, [candidate_id], CandidateStatus.BLOCKED, "Blocked by the provider's safety filter.", seed=result.seed, prompt=result.prompt)
        return None
    if result.data is None:
        _finish_candidates(ws, [candidate_id], CandidateStatus.FAILED, result.error or "No image was returned.", seed=result.seed, prompt=result.prompt)
        return None
    seed = result.seed if result.seed is not None else recipe["seed"]
    try:
        checked = check_image(result.data, max_bytes=ws.settings.max_image_bytes, max_pixels=ws.settings.max_image_pixels, decode=not drawn_here,
                              thumbnail_side=THUMBNAIL_SIDE if card else None)
        stamped = embed_recipe(checked.data, checked.format, {**recipe, "seed": seed, "count": 1})
        landed = Landed(candidate_id, ws.media.key_for(stamped, checked.format), checked.format, len(stamped),
                        checked.width, checked.height, seed, result.prompt)
        if not store_first:
            with ws.session() as s, s.begin():
                cand = s.get(Candidate, candidate_id)
                cand.pending_key = landed.key
                landed.describe(cand)
        ws.media.put(stamped, checked.format, key=landed.key)
        if card:  # from the check's own decode; a local image (never decoded to be checked) is decoded here once
            _card_thumbnail(ws, landed.key, stamped, checked.thumbnail)
    except ImagegenError as exc:
        _finish_candidates(ws, [candidate_id], CandidateStatus.FAILED, str(exc), seed=result.seed, prompt=result.prompt, forget_image=True)
        return None
    if store_first:
        return landed
    with ws.session() as s, s.begin():
        landed.record(s.get(Candidate, candidate_id))
    return None


def _card_thumbnail(ws: "Workspace", key: str, data: bytes, made: bytes | None) -> None:
    """Only a cache: if it cannot be written (a full disk), the page makes it when it shows
    the card, and the image itself, already paid for and stored, is recorded all the same."""
    try:
        ws.thumbnail(key, make=lambda: made if made is not None else make_thumbnail(data))
    except Exception as exc:
        log.warning("no thumbnail made for %s (the page will make it): %s", key, exc)


def _finish_candidates(ws, ids, status, error, *, seed=None, prompt=None, forget_image=False) -> None:
    with ws.session() as s, s.begin():
        for cand in s.scalars(select(Candidate).where(Candidate.id.in_(ids))):
            if cand.status.finished:
                continue
            transition(cand, status)
            cand.error, cand.finished_at = error, utcnow()
            if forget_image:
                cand.pending_key = cand.format = cand.byte_size = None
            if seed is not None:
                cand.seed = seed
            cand.provider_prompt = prompt or cand.provider_prompt


def _end_job(ws, generation_id: int, status: CandidateStatus, error: str, gen_status: GenerationStatus | None, *,
             landed: list[Landed] = ()) -> GenerationStatus:
    with ws.session() as s, s.begin():
        candidates = list(s.scalars(select(Candidate).where(Candidate.generation_id == generation_id)))
        _record_landed(landed, candidates)  # stored before the job was stopped: kept
        ids = [c.id for c in candidates]
    _finish_candidates(ws, ids, status, error)
    return _finish_generation(ws, generation_id, status=gen_status, error=error if gen_status is None else None)


def end_stopped(ws, generation_id: int, *, landed: list[Landed] = ()) -> GenerationStatus:
    """End a batch agent's job whose process is being shut down: interrupted, as after a kill,
    keeping what it stored; the batch's resume makes the rest."""
    return _end_job(ws, generation_id, CandidateStatus.INTERRUPTED, STOPPED, GenerationStatus.INTERRUPTED, landed=landed)


def _record_landed(landed: list[Landed], candidates: list[Candidate]) -> None:
    by_id = {c.id: c for c in candidates}
    for image in landed:
        if by_id[image.candidate_id].status.can_become(CandidateStatus.SUCCEEDED):
            image.record(by_id[image.candidate_id])


def _finish_generation(ws, generation_id: int, *, status: GenerationStatus | None = None, error: str | None = None,
                       on_success: Callable[[Session, Generation], None] | None = None, landed: list[Landed] = ()) -> GenerationStatus:
    """End the job, recording the images `landed` (stored, not yet recorded) in the same write;
    its actual spend replaces its reservation."""
    with ws.session() as s, s.begin():
        # Its candidates in the same read (not a second one), not its agent.
        gen = s.get(Generation, generation_id, options=[lazyload(Generation.agent), joinedload(Generation.candidates)])
        if gen.status.finished:
            return gen.status
        _record_landed(landed, gen.candidates)
        outcomes = [c.status for c in gen.candidates]
        if status is GenerationStatus.CANCELED and outcomes and all(o is CandidateStatus.SUCCEEDED for o in outcomes):
            status = GenerationStatus.SUCCEEDED  # a Cancel after every image landed stopped nothing
        if status is None and CandidateStatus.INTERRUPTED in outcomes:  # held back by a Pause: resumable
            status, error = GenerationStatus.INTERRUPTED, HELD_BACK
        if status is None:
            status = GenerationStatus.SUCCEEDED if CandidateStatus.SUCCEEDED in outcomes else GenerationStatus.FAILED
        if status is GenerationStatus.FAILED and error is None:
            error = next((c.error for c in gen.candidates if c.error), None)
        elif status is GenerationStatus.SUCCEEDED:
            error = None
        transition(gen, status)
        gen.error, gen.finished_at, gen.lease_until = error, utcnow(), None
        _settle(ws, gen)
        if on_success is not None and status is GenerationStatus.SUCCEEDED:
            on_success(s, gen)
        return status


def _settle(ws, gen: Generation) -> None:
    made = sum(c.status in PAID for c in gen.candidates)
    gen.cost_usd = unit_price(price_table(ws.settings.prices), gen.recipe) * made
    gen.reserved_usd = 0.0


def recover_expired(ws: "Workspace") -> int:
    """End the jobs whose runner's lease expired: an image stored but not yet recorded as done
    is adopted, a recorded key whose file never landed is cleared, the rest is interrupted.
    A live lease is never touched, whoever holds it."""
    now = utcnow()
    count = 0
    with ws.session() as s, s.begin():
        lock_for_write(s)
        active = s.scalars(select(Generation).where(Generation.status.in_([GenerationStatus.QUEUED, GenerationStatus.RUNNING])))
        for gen in active.all():
            if not expired(gen.lease_until, now):
                continue
            for cand in gen.candidates:
                if cand.status.finished:
                    continue
                if cand.pending_key and ws.media.exists(cand.pending_key):  # paid, stored, not yet recorded: adopt it
                    transition(cand, CandidateStatus.SUCCEEDED)
                    cand.image_key, cand.pending_key, cand.finished_at = cand.pending_key, None, now
                    continue
                transition(cand, CandidateStatus.INTERRUPTED)
                cand.error, cand.pending_key, cand.format, cand.byte_size = "Interrupted before it finished.", None, None, None
            transition(gen, GenerationStatus.INTERRUPTED)
            gen.finished_at, gen.lease_until = now, None
            gen.error = "Interrupted: its runner stopped renewing its lease. Finished candidates were kept."
            _settle(ws, gen)
            count += 1
    return count
