"""The engine under faults and concurrency: leases, owned failures, reservations, windows, layers."""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select

from imagegen import batch as batch_module
from imagegen import generation as generation_module
from imagegen.approval import approve_candidate
from imagegen.batch import batch_generations, create_batch, run_batch, select_agents, set_batch_status
from imagegen.errors import BudgetExceeded, InvalidInput, ProviderTimeout
from imagegen.generation import run_generation, start_generation
from imagegen.jobs import open_workspace
from imagegen.providers.http import build_client, download, parse_hosts
from imagegen.recipes import make_spec
from imagegen.records import (
    NEXT,
    Approval,
    Batch,
    BatchItemStatus,
    BatchStatus,
    CandidateStatus,
    Generation,
    GenerationSpec,
    GenerationStatus,
    transition,
    utcnow,
)
from imagegen.settings import Settings
from imagegen.workspace import ImageLimiter
from tests.conftest import ROOT
from tests.loopback import JsonHandler, LoopbackServer

IMAGEGEN = ROOT / "imagegen"


def running_job(ws, slug="trend-radar", count=2) -> int:
    """A job this workspace has claimed and is running (its lease is live)."""
    gen_id = start_generation(ws, slug, make_spec(ws, ws.get_agent(slug), provider="local", count=count, seed=0))
    generation_module._claim(ws, gen_id)
    return gen_id


# --- 1, 2: ownership is a lease -----------------------------------------------------------


def test_a_starting_process_keeps_a_live_writers_temporary_files(ws):
    """Measured: every start removed every .tmp-*.part, including files a live process was writing."""
    running_job(ws)
    folder = ws.media.root / "ab"
    folder.mkdir(parents=True, exist_ok=True)
    live = folder / f".tmp-{ws.owner}-x.part"
    dead = folder / ".tmp-0123deadbeef-x.part"
    for path in (live, dead):
        path.write_bytes(b"half an image")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    other = open_workspace(Settings())
    assert live.exists(), "a live writer's file was deleted"
    assert not dead.exists() and other.swept_on_start == 1


def test_a_second_workspace_in_the_same_process_leaves_live_jobs_alone(ws):
    """Measured: Streamlit's "Clear cache" opened a second Workspace that interrupted its own running jobs."""
    gen_id = running_job(ws)
    batch_id = create_batch(ws, select_agents(ws, slugs=["ai"]), {"provider": "local", "count": 1})  # running, no runner yet
    again = open_workspace(Settings())
    assert again.interrupted_on_start == 0 and again.paused_on_start == 0
    assert again.get_generation(gen_id).status is GenerationStatus.RUNNING
    with again.session() as s:
        assert s.get(Batch, batch_id).status is BatchStatus.RUNNING


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs `unshare` and root for a PID namespace")
def test_a_process_in_another_pid_namespace_leaves_live_jobs_alone(ws, isolated):
    """Measured: a CLI in its own PID namespace (a second container) marked a live batch's job interrupted."""
    gen_id = running_job(ws)
    script = "from imagegen.jobs import open_workspace; ws = open_workspace(); print(ws.interrupted_on_start)"
    out = subprocess.run(["unshare", "--pid", "--fork", sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=isolated, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
    assert ws.get_generation(gen_id).status is GenerationStatus.RUNNING


def test_only_an_expired_lease_is_recovered(ws):
    gen_id = running_job(ws)
    with ws.session() as s, s.begin():
        s.get(Generation, gen_id).lease_until = utcnow() - timedelta(seconds=1)
    assert open_workspace(Settings()).interrupted_on_start == 1
    assert ws.get_generation(gen_id).status is GenerationStatus.INTERRUPTED


def test_a_running_job_renews_its_lease(ws, monkeypatch):
    ws.settings.lease_seconds = 0.3
    gen_id = start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=1, seed=0))
    seen = []

    async def slow_generate(self, request):
        for _ in range(4):
            await asyncio.sleep(0.2)
            with ws.session() as s:
                seen.append(s.get(Generation, gen_id).lease_until)
        return []

    monkeypatch.setattr("imagegen.providers.local.LocalProvider.generate", slow_generate)
    asyncio.run(run_generation(ws, gen_id))
    assert len(set(seen)) >= 2, "the lease was never renewed"


# --- 3: every job ends --------------------------------------------------------------------


def test_an_unwritable_media_folder_ends_the_job_with_one_line(ws):
    """Measured: mkdir/mkstemp outside the try in media.put left the generation running forever."""
    gen_id = start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=1, seed=0))
    shutil.rmtree(ws.media.root)
    ws.media.root.write_bytes(b"not a folder")  # works as root too, unlike chmod
    assert asyncio.run(run_generation(ws, gen_id)) is GenerationStatus.FAILED
    gen = ws.get_generation(gen_id)
    assert gen.status is GenerationStatus.FAILED and "media folder" in gen.error and "\n" not in gen.error
    assert all(c.status.finished for c in gen.candidates)


def test_a_locked_database_inside_a_job_ends_it_and_is_logged(ws, monkeypatch, caplog):
    """Measured: "database is locked" in _set_status left the generation running, the exception
    dropped. (Candidates now start running in the claim; recording a result is the job's write.)"""
    from sqlalchemy.exc import OperationalError

    def locked(*args, **kwargs):
        raise OperationalError("UPDATE candidates", {}, Exception("database is locked"))

    monkeypatch.setattr(generation_module, "_save_result", locked)
    gen_id = start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=1, seed=0))
    with caplog.at_level(logging.ERROR):
        asyncio.run(run_generation(ws, gen_id))
    gen = ws.get_generation(gen_id)
    assert gen.status is GenerationStatus.FAILED and "OperationalError" in gen.error
    assert any("generation" in r.getMessage() for r in caplog.records)


def test_closing_a_workspace_stops_its_runner(ws, monkeypatch):
    import threading

    called = threading.Event()

    async def forever(self, request):
        called.set()
        await asyncio.sleep(60)

    monkeypatch.setattr("imagegen.providers.local.LocalProvider.generate", forever)
    gen_id = start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=1, seed=0))
    ws.jobs.submit(gen_id)
    assert called.wait(30)  # the job is running, its call out
    ws.jobs.stop()
    assert ws.get_generation(gen_id).status is GenerationStatus.CANCELED


# --- 4: the budget is a reservation -------------------------------------------------------


def test_concurrent_starts_cannot_pass_the_budget(isolated, monkeypatch):
    """Measured: five concurrent `generate --count 1` at $0.06 all ran against a $0.10 budget."""
    monkeypatch.setenv("IMAGEGEN_DAILY_BUDGET", "0.10")
    monkeypatch.setenv("IDEOGRAM_API_KEY", "fake-key-for-a-test-that-calls-nobody")  # no key: refused before the budget
    workspaces = [open_workspace(Settings()) for _ in range(5)]  # five "processes": five engines
    spec = GenerationSpec(provider="ideogram", prompt="a lighthouse", count=1)
    started, refused = [], []
    barrier = threading.Barrier(5)

    def start(w):
        barrier.wait()
        try:
            started.append(start_generation(w, "trend-radar", spec))
        except BudgetExceeded:
            refused.append(1)

    threads = [threading.Thread(target=start, args=(w,)) for w in workspaces]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == 1 and len(refused) == 4
    with workspaces[0].session() as s:
        assert s.get(Generation, started[0]).reserved_usd == pytest.approx(0.06)


def test_finishing_replaces_the_reservation_with_the_spend(ws):
    from imagegen.costs import spent_today

    gen_id = start_generation(ws, "trend-radar", GenerationSpec(provider="local", prompt="x", count=1))
    asyncio.run(run_generation(ws, gen_id))
    with ws.session() as s:
        gen = s.get(Generation, gen_id)
        assert gen.reserved_usd == 0 and gen.cost_usd == 0
    assert spent_today(ws) == 0


# --- 5: nothing blocking on the loop ------------------------------------------------------


def test_no_database_statement_runs_on_the_event_loop(ws):
    """Measured: every database write in run_generation and run_batch ran on the loop."""
    on_loop = []

    @event.listens_for(ws.engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):
        try:
            asyncio.get_running_loop()
            on_loop.append(statement.split()[0])
        except RuntimeError:
            pass

    batch_id = create_batch(ws, select_agents(ws, slugs=["ai", "bug-hunter"]), {"provider": "local", "count": 2}, auto_approve=True)
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
    assert on_loop == []


def test_rendering_checking_stamping_and_storing_never_run_on_the_event_loop(ws, monkeypatch):
    """Rendering, hashing, Pillow and fsync happen in threads: on the loop, each would stall every
    other job and every page's poll. (This used to be a wall-clock probe of the loop's lag, which
    a loaded machine could fail with correct code.)"""
    from concurrent.futures import ThreadPoolExecutor

    from imagegen import generation
    from imagegen.providers import local

    on_loop = []

    def recorded(name, real):
        def call(*args, **kwargs):
            try:
                asyncio.get_running_loop()
                on_loop.append(name)
            except RuntimeError:
                pass
            return real(*args, **kwargs)
        return call

    pool = ThreadPoolExecutor(4)  # the renderer, wrapped, cannot be pickled into the process pool; threads stand in
    monkeypatch.setattr(local, "render_png", recorded("render", local.render_png))
    monkeypatch.setattr(local, "render_pool", lambda: pool)
    monkeypatch.setattr(generation, "check_image", recorded("check", generation.check_image))
    monkeypatch.setattr(generation, "embed_recipe", recorded("stamp", generation.embed_recipe))
    monkeypatch.setattr(ws.media, "put", recorded("store", ws.media.put))
    ids = [start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=2, seed=i)) for i in range(4)]

    async def run_all():
        return await asyncio.gather(*(run_generation(ws, i) for i in ids))

    assert asyncio.run(run_all()) == [GenerationStatus.SUCCEEDED] * 4
    assert on_loop == []


# --- 6: bounded downloads -----------------------------------------------------------------


class _Drip(JsonHandler):
    def do_GET(self) -> None:
        self.server.count_request()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


async def _hold(limiter: ImageLimiter, got: list[str], name: str, images: int = 1, done: asyncio.Event | None = None) -> None:
    """A call on the limiter: notes in `got` when it has its images, and holds them until `done` is set."""
    async with limiter.hold(images):
        got.append(name)
        if done is not None:
            await done.wait()


def _limited_calls(capacity: int, asks: list[int], *, holders: int) -> tuple[list[int], int]:
    """`holders` one-image calls hold the limiter, `asks` (images each, each holding its images
    2 ms) queue behind them in that order; then the holders end one by one. Returns the order the
    queued calls got their images in, and how many waits the limiter made them do."""
    async def go():
        loop, limiter, waits, order = asyncio.get_running_loop(), ImageLimiter(capacity), [0], []
        create_future = loop.create_future

        def counted():  # each wait of a call in the limiter is one future
            waits[0] += sys._getframe(1).f_code.co_name == "hold"
            return create_future()

        loop.create_future = counted
        release = [asyncio.Event() for _ in range(holders)]

        async def hold(i: int | None, images: int, done: asyncio.Event | None) -> None:
            async with limiter.hold(images):
                if i is not None:
                    order.append(i)
                await (done.wait() if done is not None else asyncio.sleep(0.002))  # drawing, holding its slot

        held = [asyncio.create_task(hold(None, 1, e)) for e in release]
        await asyncio.sleep(0)
        asked = []
        for i, images in enumerate(asks):
            asked.append(asyncio.create_task(hold(i, images, None)))
            await asyncio.sleep(0)  # each asks in turn
        for gate in release:
            gate.set()
            await asyncio.sleep(0.01)
        await asyncio.gather(*held, *asked)
        return order, waits[0]

    return asyncio.run(go())


def test_a_release_wakes_only_the_calls_it_makes_room_for():
    """Measured: a local batch keeps a dozen one-image calls waiting for its 4 render slots, and
    every release woke all of them to check again: a dozen wake-ups for each image drawn."""
    order, waits = _limited_calls(4, [1] * 12, holders=4)
    assert order == list(range(12))  # in the order they asked
    assert waits == 12  # each waiting call waited once


def test_an_eight_image_call_is_not_passed_by_smaller_calls_that_asked_after_it():
    """A studio job's 8 Ideogram images wait for 8 free of the 10: the batch's 2-image calls
    that ask after it wait behind it, or they would keep taking the slots it waits for."""
    order, _ = _limited_calls(10, [8, 2, 2, 2], holders=10)
    assert order[0] == 0


def test_a_new_call_waits_behind_a_waiting_one_even_where_it_would_fit():
    """8 Ideogram images wait with 2 of 10 slots free: a batch's 2-image call that asks now would
    fit, and taking those 2 slots at every turn it would keep the 8-image call waiting."""
    async def go():
        limiter, got = ImageLimiter(10), []
        gates = [asyncio.Event() for _ in range(10)]

        holders = [asyncio.create_task(_hold(limiter, got, f"holder {i}", 1, gate)) for i, gate in enumerate(gates)]
        await asyncio.sleep(0)
        big = asyncio.create_task(_hold(limiter, got, "eight", 8))
        await asyncio.sleep(0)
        for gate in gates[:2]:  # 2 slots free, not the 8 it waits for
            gate.set()
        await asyncio.sleep(0.01)
        small = asyncio.create_task(_hold(limiter, got, "two", 2))
        await asyncio.sleep(0.01)
        waiting = [name for name in ("eight", "two") if name not in got]
        for gate in gates[2:]:
            gate.set()
        await asyncio.wait_for(asyncio.gather(*holders, big, small), 5)
        return waiting, got[-2:]

    waiting, last = asyncio.run(go())
    assert waiting == ["eight", "two"]
    assert last == ["eight", "two"]


def test_a_call_canceled_at_the_front_lets_the_calls_behind_it_go():
    """A 2-image call waits at the front with one of 2 slots free; a 1-image call waits behind it.
    Canceled (a curator's Cancel), it must let the one behind take the free slot at once, not
    only when the holder lets go of its own."""
    async def go():
        limiter, release, got = ImageLimiter(2), asyncio.Event(), []

        holder = asyncio.create_task(_hold(limiter, got, "holder", 1, release))
        await asyncio.sleep(0)
        first = asyncio.create_task(_hold(limiter, got, "first", 2))
        await asyncio.sleep(0)
        second = asyncio.create_task(_hold(limiter, got, "second", 1))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.wait_for(second, 5)  # while the holder still holds its slot
        release.set()
        await holder
        return got

    assert asyncio.run(go()) == ["holder", "second"]


def test_a_release_skips_a_call_canceled_a_moment_before_it():
    """The holder's own step cancels the call waiting at the front and then lets go, before that
    call could take itself out of the line: the release passes over it to the next call."""
    async def go():
        limiter, got, line = ImageLimiter(1), [], {}

        async def hold(name: str) -> None:
            async with limiter.hold(1):
                got.append(name)
                if name == "holder":
                    await asyncio.sleep(0.01)
                    line["first"].cancel()  # in the same step as the release below

        holder = asyncio.create_task(hold("holder"))
        await asyncio.sleep(0)
        line["first"] = asyncio.create_task(hold("first"))
        second = asyncio.create_task(hold("second"))
        await asyncio.wait_for(asyncio.gather(holder, second), 5)
        return got

    assert asyncio.run(go()) == ["holder", "second"]


def test_a_call_canceled_just_after_its_images_were_handed_to_it_passes_them_on():
    """A release hands the images to the call at the front, and the call is canceled before it can
    use them: they go to the next call, or they would stay counted as in flight for good."""
    async def go():
        limiter, release, got = ImageLimiter(1), asyncio.Event(), []

        holder = asyncio.create_task(_hold(limiter, got, "holder", 1, release))
        await asyncio.sleep(0)
        first, second = asyncio.create_task(_hold(limiter, got, "first")), asyncio.create_task(_hold(limiter, got, "second"))
        await asyncio.sleep(0)
        release.set()
        await asyncio.sleep(0)  # the holder lets go: its image is handed to `first`
        first.cancel()
        await asyncio.wait_for(asyncio.gather(holder, second), 5)
        return got

    assert asyncio.run(go()) == ["holder", "second"]


def test_a_dripping_download_stops_at_the_total_deadline():
    """Measured: a server dripping a byte at a time held a candidate for 150 s despite a 10 s timeout."""
    server = LoopbackServer(_Drip, max_requests=2, lifetime=30).start()

    async def fetch():
        client = build_client(timeout=1.0)
        try:
            await download(client, f"{server.base_url}/x.png", parse_hosts(server.base_url, ()), 10_000, "Ideogram")
        finally:
            await client.aclose()

    started = time.monotonic()
    try:
        with pytest.raises(ProviderTimeout, match="took longer than 1 s"):
            asyncio.run(fetch())
    finally:
        server.stop()
    assert time.monotonic() - started < 5


# --- 7: no windows ------------------------------------------------------------------------

KILL_AFTER_WRITE = textwrap.dedent(
    """
    import asyncio, os
    from imagegen.generation import run_generation
    from imagegen.jobs import open_workspace

    from concurrent.futures import ThreadPoolExecutor
    from imagegen.providers import local

    local.render_pool = lambda: POOL  # threads: no renderer processes are left behind by the kill
    POOL = ThreadPoolExecutor(2)
    ws = open_workspace()
    real_put = ws.media.put

    def put_then_die(data, fmt, **kw):
        real_put(data, fmt, **kw)
        os._exit(9)  # killed after the image is written, before it is recorded as done

    ws.media.put = put_then_die
    asyncio.run(run_generation(ws, int(os.environ["GEN"])))
    """
)


def _kill_after_write(ws, isolated, slug: str, provider: str, *, batch: bool = True) -> tuple[int | None, int]:
    """A one-agent batch (or a studio job) whose job is killed right after its image is written,
    before it is recorded as done; returns (batch id, generation id) once the killed runner's
    lease (1 s) has run out. The lease `ws` takes at the start outlives the runner's start-up,
    which recovers expired jobs."""
    spec = make_spec(ws, ws.get_agent(slug), provider=provider, count=1, seed=3)
    items = create_batch(ws, select_agents(ws, slugs=[slug]), {"provider": provider, "count": 1, "seed": 3}) if batch else None
    item_id = batch_generations(ws, items)[0][0].id if batch else None
    gen_id = start_generation(ws, slug, spec, batch_item_id=item_id)
    log = isolated / "worker.log"  # a file, not a pipe: the renderer's pool processes may outlive the kill
    with log.open("w") as sink:
        out = subprocess.run([sys.executable, "-c", KILL_AFTER_WRITE], env={**os.environ, "PYTHONPATH": str(ROOT), "GEN": str(gen_id), "IMAGEGEN_LEASE_SECONDS": "1"},
                             cwd=isolated, stdout=sink, stderr=sink, timeout=120)
    assert out.returncode == 9, log.read_text()
    time.sleep(1.2)
    return items, gen_id


def test_a_paid_image_written_but_not_recorded_is_adopted_and_never_paid_again(isolated, monkeypatch):
    """Measured: a kill between writing an image and recording it lost the paid image; resume asked again."""
    from tests.fake_ideogram import KEY, FakeIdeogram

    fake = FakeIdeogram().start()
    monkeypatch.setenv("IDEOGRAM_API_KEY", KEY)
    monkeypatch.setenv("IDEOGRAM_BASE_URL", fake.base_url)
    monkeypatch.setenv("IMAGEGEN_DOWNLOAD_HOSTS", fake.base_url)
    ws = open_workspace(Settings())
    restarted = None
    try:
        items, gen_id = _kill_after_write(ws, isolated, "trend-radar", "ideogram")
        paid = len(fake.requests)
        restarted = open_workspace(Settings())
        [cand] = restarted.get_generation(gen_id).candidates
        assert cand.status is CandidateStatus.SUCCEEDED and restarted.media.exists(cand.image_key)
        assert cand.format == "PNG" and cand.byte_size == len(restarted.media.get(cand.image_key))
        set_batch_status(restarted, items, BatchStatus.RUNNING)  # resume
        assert asyncio.run(run_batch(restarted, items)) is BatchStatus.DONE
        assert paid == 1 and len(fake.requests) == 1  # the resumed batch did not pay for it again
    finally:
        for workspace in (ws, restarted):
            if workspace is not None:
                workspace.close()
        fake.stop()
    assert fake.problems == []


def test_a_local_batch_image_killed_before_its_record_is_drawn_again_to_the_same_file(ws, isolated):
    """A local batch image is stored, then recorded with its job's end (it cost nothing, redraws
    byte for byte, and the resume draws it): a kill in between loses nothing, and the redraw
    leaves no second file behind."""
    items, gen_id = _kill_after_write(ws, isolated, "trend-radar", "local")
    restarted = open_workspace(Settings())
    media_files = lambda: sorted(p for p in Path(restarted.media.root).rglob("*") if p.is_file())  # noqa: E731
    [before] = media_files()  # the file the killed job wrote
    [cand] = restarted.get_generation(gen_id).candidates
    assert cand.status is CandidateStatus.INTERRUPTED and cand.pending_key is None  # one write: nothing recorded yet
    set_batch_status(restarted, items, BatchStatus.RUNNING)  # resume
    assert asyncio.run(run_batch(restarted, items)) is BatchStatus.DONE
    [cand] = restarted.get_generation(gen_id).candidates
    assert cand.status is CandidateStatus.SUCCEEDED and cand.seed == 3
    assert media_files() == [before] and Path(restarted.media.root, cand.image_key) == before
    restarted.close()


def test_a_local_studio_image_written_but_not_recorded_is_adopted(ws, isolated):
    """Nothing draws a studio job's interrupted image again, so a local one keeps the key-first
    write: the curator's card comes back after a kill."""
    _, gen_id = _kill_after_write(ws, isolated, "trend-radar", "local", batch=False)
    restarted = open_workspace(Settings())
    [cand] = restarted.get_generation(gen_id).candidates
    assert cand.status is CandidateStatus.SUCCEEDED and restarted.media.exists(cand.image_key)
    restarted.close()


class Killed(BaseException):
    """Stands in for kill -9: nothing in the engine catches it."""


def test_a_resumed_auto_approve_batch_never_approves_twice(ws, monkeypatch):
    """Measured: killing `batch --auto-approve` right after an approval made resume approve it again."""
    batch_id = create_batch(ws, select_agents(ws, slugs=["ai", "bug-hunter"]), {"provider": "local", "count": 1, "seed": 1}, auto_approve=True)
    real_finish = batch_module._finish_item

    def die_once(*args):
        monkeypatch.setattr(batch_module, "_finish_item", real_finish)
        raise Killed  # "killed" right after the approval committed

    monkeypatch.setattr(batch_module, "_finish_item", die_once)
    with pytest.raises(Killed):
        asyncio.run(run_batch(ws, batch_id))
    set_batch_status(ws, batch_id, BatchStatus.PAUSED)
    set_batch_status(ws, batch_id, BatchStatus.RUNNING)
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
    with ws.session() as s:
        per_agent = [a for (a,) in s.execute(select(Approval.agent_id))]
    # The agent killed right after its approval keeps exactly that one; none is approved twice.
    # (The other agent, in flight when the kill landed, may have ended canceled: not approved.)
    assert per_agent and sorted(per_agent) == sorted(set(per_agent))


def test_concurrent_approvals_chain_their_previous_thumbnails(ws):
    """Measured: of 40 simultaneous approvals, 10 recorded a previous thumbnail that was not the one before."""
    gen_ids = [start_generation(ws, "ai", make_spec(ws, ws.get_agent("ai"), provider="local", count=8, seed=100 * i)) for i in range(2)]

    async def run_all():
        await asyncio.gather(*(run_generation(ws, g) for g in gen_ids))

    asyncio.run(run_all())
    candidates = [c.id for g in gen_ids for c in ws.get_generation(g).candidates]
    barrier = threading.Barrier(len(candidates))

    def approve(cid):
        barrier.wait()
        approve_candidate(ws, cid)

    threads = [threading.Thread(target=approve, args=(c,)) for c in candidates]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with ws.session() as s:
        trail = list(s.scalars(select(Approval).order_by(Approval.id)))
        current = ws.get_agent("ai", session=s).current_thumbnail
    assert len(trail) == 16
    assert trail[0].previous_thumbnail is None
    assert [a.previous_thumbnail for a in trail[1:]] == [a.upload_key for a in trail[:-1]]
    assert current == trail[-1].upload_key


# --- 9: one state machine -----------------------------------------------------------------

ALLOWED = {
    ("generation", "queued"): {"running", "failed", "canceled", "interrupted"},
    ("generation", "running"): {"succeeded", "failed", "canceled", "interrupted"},
    ("generation", "interrupted"): {"queued"},
    ("candidate", "queued"): {"running", "failed", "blocked", "canceled", "interrupted"},
    ("candidate", "running"): {"succeeded", "failed", "blocked", "canceled", "interrupted"},
    ("candidate", "interrupted"): {"queued"},
    ("batch", "running"): {"paused", "canceled", "done"},
    ("batch", "paused"): {"running", "canceled"},
    ("batchitem", "pending"): {"done", "failed"},
}


@pytest.mark.parametrize("enum_cls", list(NEXT), ids=lambda e: e.__name__)
def test_the_state_machine_is_exactly_this_table(enum_cls):
    kind = enum_cls.__name__.removesuffix("Status").lower()
    for current in enum_cls:
        allowed = ALLOWED.get((kind, current.value), set())
        for new in enum_cls:
            assert current.can_become(new) == (new.value in allowed), f"{kind} {current.value} -> {new.value}"
        assert current.finished == (not allowed or (kind, current.value) in {("generation", "interrupted"), ("candidate", "interrupted")})


def test_transition_refuses_what_the_table_forbids(ws):
    gen_id = start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="local", count=1, seed=0))
    asyncio.run(run_generation(ws, gen_id))
    with ws.session() as s:
        gen = s.get(Generation, gen_id)
        with pytest.raises(InvalidInput, match="from succeeded to running"):
            transition(gen, GenerationStatus.RUNNING)
    with pytest.raises(InvalidInput):  # a finished job cannot be run again
        asyncio.run(run_generation(ws, gen_id))
    assert ws.get_generation(gen_id).status is GenerationStatus.SUCCEEDED
    item_status = BatchItemStatus.DONE
    assert not item_status.can_become(BatchItemStatus.PENDING)


# --- layers -------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []  # type-only imports are not cycles
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("imagegen"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("imagegen")}
    return found


def test_no_module_in_imagegen_imports_one_that_imports_it_back():
    modules = {}
    for path in IMAGEGEN.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        deps = set()
        for node in tree.body:  # module level only: imports inside functions are deliberate late binding
            if isinstance(node, ast.ImportFrom) and node.module and node.module in modules:
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
        graph[name] = deps - {name}

    def reaches(start, goal, seen=None):
        seen = seen if seen is not None else set()
        for dep in graph.get(start, ()):
            if dep == goal:
                return True
            if dep not in seen:
                seen.add(dep)
                if reaches(dep, goal, seen):
                    return True
        return False

    cycles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if reaches(b, a))
    assert cycles == []


def test_the_library_never_imports_streamlit():
    for path in IMAGEGEN.rglob("*.py"):
        assert not any(m.startswith("streamlit") for m in _imports(path) | {""}), path


# --- 10: mutations that used to survive ---------------------------------------------------


def test_retries_wait_as_long_as_retry_after_says():
    """The vendor's Retry-After beats our backoff (within IMAGEGEN_RETRY_MAX_WAIT)."""
    from types import SimpleNamespace

    from imagegen.errors import RateLimited
    from imagegen.providers.http import retrying

    waits = retrying(attempts=3, max_wait=30.0).wait
    said = SimpleNamespace(outcome=SimpleNamespace(exception=lambda: RateLimited("429", retry_after=7.0)), attempt_number=1)
    assert waits(said) == 7.0
    capped = retrying(attempts=3, max_wait=2.0).wait
    assert capped(said) == 2.0


def test_an_approval_that_cannot_be_recorded_leaves_the_thumbnail_alone(ws):
    """The approval and the thumbnail switch are one transaction: if the approval row fails, nothing changed."""
    gen_id = start_generation(ws, "ai", make_spec(ws, ws.get_agent("ai"), provider="local", count=1, seed=1))
    asyncio.run(run_generation(ws, gen_id))
    [cand] = ws.get_generation(gen_id).candidates

    def refuse(*args):
        raise RuntimeError("disk full")

    event.listen(Approval, "before_insert", refuse)
    try:
        with pytest.raises(RuntimeError):
            approve_candidate(ws, cand.id)
    finally:
        event.remove(Approval, "before_insert", refuse)
    assert ws.get_agent("ai").current_thumbnail is None


def test_without_the_shared_specs_the_fakes_skip_visibly(monkeypatch, tmp_path):
    """Measured: spec_check.validate returned no problems when ../shared was missing."""
    from tests import spec_check
    from tests.fake_ideogram import FakeIdeogram

    monkeypatch.setattr(spec_check, "SPECS", tmp_path / "nowhere")
    spec_check.load_spec.cache_clear()
    try:
        assert spec_check.validate("ideogram-openapi.json", "GenerateImageRequestV3", {}) != []
        with pytest.raises(pytest.skip.Exception, match="missing"):
            FakeIdeogram()
    finally:
        spec_check.load_spec.cache_clear()


def test_resuming_an_interrupted_job_reserves_what_is_left_to_pay(isolated, monkeypatch):
    from imagegen.generation import requeue_interrupted

    monkeypatch.setenv("IMAGEGEN_DAILY_BUDGET", "0.20")
    monkeypatch.setenv("IDEOGRAM_API_KEY", "fake-key-for-a-test-that-calls-nobody")  # no key: refused before the budget
    ws = open_workspace(Settings())
    gen_id = start_generation(ws, "trend-radar", GenerationSpec(provider="ideogram", prompt="x", count=3))  # $0.18 reserved
    with ws.session() as s, s.begin():
        gen = s.get(Generation, gen_id)
        gen.lease_until = utcnow() - timedelta(seconds=1)
    open_workspace(Settings())  # recovery: interrupted, nothing made, the reservation released
    start_generation(ws, "ai", GenerationSpec(provider="ideogram", prompt="y", count=2))  # $0.12 of the $0.20
    with pytest.raises(BudgetExceeded):
        requeue_interrupted(ws, gen_id)  # $0.18 more would pass the budget
    assert ws.get_generation(gen_id).status is GenerationStatus.INTERRUPTED


def test_a_job_resumed_the_next_day_counts_against_the_day_it_resumes(isolated, monkeypatch):
    """Measured: a job held back or cut short yesterday and resumed today reserved its cost on
    yesterday's row, so today's budget saw none of it and let as much again start beside it."""
    from imagegen.costs import spend_by_day, spent_today
    from imagegen.generation import requeue_interrupted

    monkeypatch.setenv("IMAGEGEN_DAILY_BUDGET", "0.20")
    monkeypatch.setenv("IDEOGRAM_API_KEY", "fake-key-for-a-test-that-calls-nobody")
    ws = open_workspace(Settings())
    gen_id = start_generation(ws, "trend-radar", GenerationSpec(provider="ideogram", prompt="x", count=3))  # $0.18
    with ws.session() as s, s.begin():  # started yesterday, and its runner died
        gen = s.get(Generation, gen_id)
        gen.created_at = gen.charged_at = utcnow() - timedelta(days=1)
        gen.lease_until = utcnow() - timedelta(seconds=1)
    open_workspace(Settings())  # recovery: interrupted, nothing made, the reservation released
    assert spent_today(ws) == 0
    assert requeue_interrupted(ws, gen_id)  # today: $0.18 of today's $0.20
    assert spent_today(ws) == pytest.approx(0.18)
    with pytest.raises(BudgetExceeded, match=r"\$0.18 of today's \$0.20"):
        start_generation(ws, "ai", GenerationSpec(provider="ideogram", prompt="y", count=2))  # $0.12 more
    with ws.session() as s, s.begin():  # it pays today, and the spend shows on today
        gen = s.get(Generation, gen_id)
        gen.cost_usd, gen.reserved_usd = 0.18, 0.0
    assert spend_by_day(ws)[0] == (utcnow().date().isoformat(), pytest.approx(0.18))


def test_a_failing_database_is_one_line_in_the_cli(ws, monkeypatch, capsys):
    """Measured: the database on a full disk printed a traceback."""
    from sqlalchemy.exc import OperationalError

    from imagegen import cli

    def full(*args):
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setitem(cli.COMMANDS, "agents", full)
    assert cli.main(["agents"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "database or disk is full" in err and "Traceback" not in err
