import asyncio
import time
from datetime import timedelta

import pytest

from imagegen import providers
from imagegen.errors import MissingKeyError
from imagegen.generation import run_generation, start_generation
from imagegen.recipes import make_spec
from imagegen.records import Candidate, CandidateStatus, Generation, GenerationSource, GenerationStatus, utcnow
from imagegen.jobs import open_workspace
from imagegen.settings import Settings
from tests.fakes import scripted


@pytest.fixture
def register(monkeypatch):
    def add(cls):
        monkeypatch.setattr(providers, "PROVIDERS", providers.PROVIDERS + (cls,))
        return cls

    return add


def generate(ws, provider="local", slug="trend-radar", source=None, **choices):
    spec = make_spec(ws, ws.get_agent(slug), provider=provider, **choices)
    gen_id = start_generation(ws, slug, spec, source=source)
    asyncio.run(run_generation(ws, gen_id))
    return ws.get_generation(gen_id)


def test_four_local_candidates_are_saved_with_consecutive_seeds(ws):
    gen = generate(ws, count=4, seed=100)
    assert gen.status is GenerationStatus.SUCCEEDED
    assert [c.status for c in gen.candidates] == [CandidateStatus.SUCCEEDED] * 4
    assert [c.seed for c in gen.candidates] == [100, 101, 102, 103]
    assert len({c.image_key for c in gen.candidates}) == 4
    assert all(ws.media.exists(c.image_key) for c in gen.candidates)
    assert gen.recipe.seed == 100 and gen.recipe.count == 4


def test_a_random_seed_is_recorded_so_the_recipe_can_be_repeated(ws):
    gen = generate(ws, count=1)
    again = generate(ws, count=1, seed=gen.recipe.seed)
    assert gen.candidates[0].image_key == again.candidates[0].image_key


def test_one_bad_candidate_never_costs_the_others(ws, register):
    register(scripted(["ok", "blocked", "error", "garbage"]))
    gen = generate(ws, provider="scripted", count=4, seed=0)
    statuses = [c.status for c in gen.candidates]
    assert statuses == [CandidateStatus.SUCCEEDED, CandidateStatus.BLOCKED, CandidateStatus.FAILED, CandidateStatus.FAILED]
    assert gen.status is GenerationStatus.SUCCEEDED
    assert gen.candidates[0].provider_prompt == "improved prompt"
    assert gen.candidates[1].error == "Blocked by the provider's safety filter."
    assert gen.candidates[2].error == "The model returned nothing."
    assert "not a PNG, JPEG or WebP" in gen.candidates[3].error
    assert gen.candidates[3].image_key is None


def test_a_provider_error_fails_only_its_own_call(ws, register):
    register(scripted(["ok", "raise"]))
    gen = generate(ws, provider="scripted", count=4, seed=0)
    assert [c.status.value for c in gen.candidates] == ["succeeded", "failed", "succeeded", "failed"]
    assert "HTTP 503" in gen.candidates[1].error


def test_when_nothing_succeeds_the_generation_failed_with_the_reason(ws, register):
    register(scripted(["raise"]))
    gen = generate(ws, provider="scripted", count=2, seed=0)
    assert gen.status is GenerationStatus.FAILED
    assert "HTTP 503" in gen.error


def test_candidates_run_concurrently_within_the_provider_limit(ws, register):
    fake = register(scripted(["ok", "ok"], delay=0.05, limit=3))
    generate(ws, provider="scripted", count=8, seed=0)
    assert fake.peak == 3


def test_providers_that_return_several_images_get_one_call(ws, register):
    fake = register(scripted(["ok"], per_call=8))
    gen = generate(ws, provider="scripted", count=5, seed=0)
    assert fake.calls == [5]
    assert [c.status for c in gen.candidates] == [CandidateStatus.SUCCEEDED] * 5


def test_a_provider_without_its_key_is_refused_before_anything_is_recorded(ws, register):
    needy = scripted(["ok"], name="needy")
    needy.needs_key, needy.key_env_var = True, "NEEDY_API_KEY"
    register(needy)
    spec = make_spec(ws, ws.get_agent("trend-radar"), provider="needy", count=2, seed=0)
    with pytest.raises(MissingKeyError, match="set NEEDY_API_KEY"):
        start_generation(ws, "trend-radar", spec)
    with ws.session() as s:  # refused before anything is written: no failed board replaces a good one
        assert s.query(Generation).count() == 0


def test_cancel_keeps_what_landed_and_cancels_the_rest(ws, register):
    register(scripted(["ok", "slow"], delay=0.01))
    spec = make_spec(ws, ws.get_agent("trend-radar"), provider="scripted", count=4, seed=0)
    gen_id = start_generation(ws, "trend-radar", spec)
    ws.jobs.submit(gen_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sum(c.status is CandidateStatus.SUCCEEDED for c in ws.get_generation(gen_id).candidates) == 2:
            break
        time.sleep(0.02)
    assert ws.jobs.cancel(gen_id)
    while time.monotonic() < deadline and not ws.get_generation(gen_id).status.finished:
        time.sleep(0.02)
    gen = ws.get_generation(gen_id)
    assert gen.status is GenerationStatus.CANCELED
    assert [c.status.value for c in gen.candidates] == ["succeeded", "canceled", "succeeded", "canceled"]


def test_jobs_whose_lease_expired_are_marked_interrupted(ws):
    spec = make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=2, seed=0)
    gen_id = start_generation(ws, "trend-radar", spec)
    with ws.session() as s, s.begin():
        gen = s.get(Generation, gen_id)
        gen.status, gen.lease_until = GenerationStatus.RUNNING, utcnow() - timedelta(seconds=1)
        first = s.get(Candidate, gen.candidates[0].id)
        first.status, first.image_key = CandidateStatus.SUCCEEDED, ws.media.put(b"x", "PNG")
    restarted = open_workspace(Settings())
    gen = restarted.get_generation(gen_id)
    assert restarted.interrupted_on_start == 1
    assert gen.status is GenerationStatus.INTERRUPTED
    assert [c.status.value for c in gen.candidates] == ["succeeded", "interrupted"]


def test_in_flight_images_are_shared_between_jobs_by_weight(ws, register):
    fake = register(scripted(["ok"], delay=0.05, limit=10, per_call=8))

    async def two_jobs():
        ids = [start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="scripted", count=n, seed=0)) for n in (8, 4)]
        await asyncio.gather(*(run_generation(ws, i) for i in ids))

    asyncio.run(two_jobs())
    assert sorted(fake.calls) == [4, 8]
    assert fake.peak == 1  # 8 + 4 images exceed the 10-image budget, so the calls ran one after the other


def test_a_job_is_split_into_even_calls(ws, register):
    fake = register(scripted(["ok"], limit=10, per_call=4))
    generate(ws, provider="scripted", count=5, seed=0)
    assert sorted(fake.calls) == [2, 3]  # two calls either way; the last one is not a lone image


def test_a_cancel_during_saving_keeps_every_image_already_paid_for(ws, register, monkeypatch):
    """The provider answered with 4 images; Cancel arrives while they are being stored. Every image
    lands, so the Cancel stopped nothing: found in a walk-through, History called such a run
    canceled while all its cards were Ready, as if it had been cut short."""
    import threading

    from imagegen import generation

    register(scripted(["ok"], per_call=4))
    real_save, first, canceled = generation._save_result, threading.Lock(), threading.Event()

    def slow_after_the_first(*args, **kwargs):  # the Cancel always lands while three are still being stored
        if not first.acquire(blocking=False):
            canceled.wait(10)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(generation, "_save_result", slow_after_the_first)
    spec = make_spec(ws, ws.get_agent("trend-radar"), provider="scripted", count=4, seed=0)
    gen_id = start_generation(ws, "trend-radar", spec)

    async def cancel_while_saving():
        task = asyncio.ensure_future(run_generation(ws, gen_id))
        while not any(c.status is CandidateStatus.SUCCEEDED for c in ws.get_generation(gen_id).candidates):
            await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.sleep(0.05)  # the Cancel is delivered while the saves wait for it
        canceled.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_while_saving())
    gen = ws.get_generation(gen_id)
    assert [c.status for c in gen.candidates] == [CandidateStatus.SUCCEEDED] * 4
    assert (gen.status, gen.error) == (GenerationStatus.SUCCEEDED, None)  # every image landed: the Cancel stopped nothing


def test_a_local_batch_job_stopped_while_saving_records_the_images_it_stored(ws):
    """A local batch image is recorded with its job's end, not one by one: a job stopped (a
    shutdown cancels it) after storing some of its images keeps them, recorded as its end
    interrupts the rest, never a file left unrecorded and its candidate interrupted."""
    from imagegen.batch import batch_generations, create_batch, select_agents
    from tests.fakes import stop_once_an_image_is_stored

    batch_id = create_batch(ws, select_agents(ws, slugs=["trend-radar"]), {"provider": "local", "count": 4, "seed": 1})
    [(item, _)] = batch_generations(ws, batch_id)
    spec = make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=4, seed=1)
    gen_id = start_generation(ws, "trend-radar", spec, batch_item_id=item.id)
    stop_once_an_image_is_stored(ws, lambda: run_generation(ws, gen_id))
    gen = ws.get_generation(gen_id)
    assert gen.status is GenerationStatus.INTERRUPTED  # a batch job is stopped, not canceled: its resume makes the rest
    statuses = [c.status for c in gen.candidates]
    assert set(statuses) <= {CandidateStatus.SUCCEEDED, CandidateStatus.INTERRUPTED}  # drawn in time, or not
    kept = [c for c in gen.candidates if c.status is CandidateStatus.SUCCEEDED]
    assert kept  # the one stored before the stop, at least
    assert all(c.byte_size == len(ws.media.get(c.image_key)) for c in kept)
    assert len(list(ws.media.root.rglob("*.png"))) == len(kept)  # no file is left unrecorded


def test_an_unexpected_error_saving_one_image_keeps_the_others_of_its_answer(ws, register, monkeypatch):
    """Review: one image's save raising something unforeseen ended the job while the other images of
    the same answer, paid for, were still being stored: they ended failed, on disk, never recorded."""
    import threading

    from imagegen import generation

    register(scripted(["ok"], per_call=4))
    real_save, first = generation._save_result, threading.Lock()

    def save(*args, **kwargs):
        if first.acquire(blocking=False):
            raise RuntimeError("the disk controller went away")
        time.sleep(0.2)  # the others are still being stored when the first one's error is raised
        return real_save(*args, **kwargs)

    monkeypatch.setattr(generation, "_save_result", save)
    gen = generate(ws, provider="scripted", count=4, seed=0)
    assert sorted(c.status.value for c in gen.candidates) == ["failed", "succeeded", "succeeded", "succeeded"]
    assert all(ws.media.exists(c.image_key) for c in gen.candidates if c.status is CandidateStatus.SUCCEEDED)


def test_a_local_batch_job_that_fails_records_the_images_it_stored(ws):
    """The failure path records a local batch job's stored images too, before it fails the rest."""
    from imagegen.batch import batch_generations, create_batch, select_agents

    batch_id = create_batch(ws, select_agents(ws, slugs=["trend-radar"]), {"provider": "local", "count": 4, "seed": 1})
    [(item, _)] = batch_generations(ws, batch_id)
    gen_id = start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=4, seed=1),
                              batch_item_id=item.id)
    real_put, calls = ws.media.put, []

    def put(data, image_format, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the disk controller went away")
        return real_put(data, image_format, **kw)

    ws.media.put = put
    asyncio.run(run_generation(ws, gen_id))
    gen = ws.get_generation(gen_id)
    assert sorted(c.status.value for c in gen.candidates) == ["failed", "succeeded", "succeeded", "succeeded"]
    assert len(list(ws.media.root.rglob("*.png"))) == 3  # each stored file is recorded


@pytest.fixture
def decoded(monkeypatch) -> list[str]:
    """The format of every image Pillow fully decodes while the test runs."""
    from PIL import ImageFile

    seen: list[str] = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        if self.tile:  # pixels still to read: a real decode (a loaded image's load() is a no-op)
            seen.append(self.format)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


def test_images_the_local_renderer_drew_are_not_decoded_again_to_be_stored(ws, decoded):
    """Measured: every local candidate was fully decoded in the app's own process (about 4 ms
    of the batch's main process per image, on 2 cores shared with the renderer's workers)."""
    gen = generate(ws, count=4, seed=7, source=GenerationSource.BATCH)
    assert [c.status for c in gen.candidates] == [CandidateStatus.SUCCEEDED] * 4
    assert [(c.width, c.height, c.format) for c in gen.candidates] == [(1280, 720, "PNG")] * 4
    assert decoded == []
    assert not list(ws.settings.thumbnail_dir.glob("*.jpg"))  # nobody waits on a batch's cards: no thumbnails made


def test_a_thumbnail_that_cannot_be_written_costs_no_image(ws):
    ws.settings.thumbnail_dir.parent.mkdir(parents=True, exist_ok=True)
    ws.settings.thumbnail_dir.write_text("a file where the thumbnail folder should be")  # every write there fails
    gen = generate(ws, count=2, seed=7)  # a studio job, which makes its cards' thumbnails
    assert [c.status for c in gen.candidates] == [CandidateStatus.SUCCEEDED] * 2
    assert all(ws.media.exists(c.image_key) for c in gen.candidates)


def test_a_studio_candidates_card_thumbnail_is_ready_when_it_lands(ws, decoded):
    """Measured (issue 14): the studio grid's run that first showed new cards took 80 to 120 ms,
    most of it decoding each image to make its card's thumbnail; runs after took 20 to 35 ms.
    A studio job makes the thumbnail as it stores the image, in its own thread, before the
    candidate counts as landed: the grid then reads a small file and decodes nothing."""
    gen = generate(ws, count=3, seed=7)  # the studio's Generate
    assert [c.status for c in gen.candidates] == [CandidateStatus.SUCCEEDED] * 3
    decoded.clear()
    thumbs = [ws.thumbnail(c.image_key) for c in gen.candidates]  # what the grid's cards show
    assert decoded == [] and all(t[:3] == b"\xff\xd8\xff" for t in thumbs)


def test_a_remote_providers_images_are_still_decoded_in_full(ws, register, decoded):
    """Only the app's own renderer is trusted: a download is decoded once, to catch a truncated file."""
    register(scripted(["ok", "ok"]))
    gen = generate(ws, provider="scripted", count=2, seed=1)
    assert gen.status is GenerationStatus.SUCCEEDED and len(decoded) == 2
    assert len(list(ws.settings.thumbnail_dir.glob("*.jpg"))) == 2  # the studio cards' thumbnails, from that same decode

