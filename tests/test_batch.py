"""Batches from the command line: progress, pause by kill -9, resume without redoing anything."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from imagegen.batch import batch_generations, create_batch, get_batch, run_batch, select_agents, set_batch_status
from imagegen.records import BatchStatus
from imagegen.settings import Settings
from tests.conftest import ROOT


LEASE = "1"  # seconds: a killed runner's jobs are recoverable this long after the kill


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "imagegen", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "IMAGEGEN_LEASE_SECONDS": LEASE}, **kwargs)


def sql(db, query: str) -> list[tuple]:
    """Rows straight from the database the CLI uses (SQLite or PostgreSQL), behind its back."""
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query))]
    finally:
        engine.dispose()


def done_items(db) -> int:
    try:
        return sql(db, "SELECT count(*) FROM batch_items WHERE status = 'done'")[0][0]
    except (OperationalError, ProgrammingError):  # the CLI has not created the tables yet
        return 0


def interrupted_then_resumed(isolated, slugs):
    db = Settings().resolved_database_url
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IMAGEGEN_LOCAL_CONCURRENCY": "1", "IMAGEGEN_LEASE_SECONDS": LEASE}
    worker = subprocess.Popen([sys.executable, "-m", "imagegen", "batch", "--slugs", ",".join(slugs), "--count", "3", "--seed", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while done_items(db) < len(slugs) // 2 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    halfway = done_items(db)
    assert 0 < halfway < len(slugs), "the kill should land halfway through"
    time.sleep(float(LEASE) + 0.5)  # only an expired lease is recovered

    resumed = cli("batch", "--resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{halfway} already done" in resumed.stderr or f"{halfway + 1} already done" in resumed.stderr
    assert "images/min" in resumed.stderr  # the terminal shows the throughput
    summary = json.loads(resumed.stdout)
    assert summary["status"] == "done" and [i["status"] for i in summary["items"]] == ["done"] * len(slugs)
    per_agent = dict(sql(db, "SELECT a.slug, count(g.id) FROM agents a JOIN generations g ON g.agent_id = a.id GROUP BY a.slug"))
    statuses = sql(db, "SELECT status, count(*) FROM candidates GROUP BY status")
    assert per_agent == {slug: 1 for slug in slugs}  # exactly one set of candidates each
    assert statuses == [("succeeded", 3 * len(slugs))]


def test_a_killed_batch_of_sample_agents_resumes_to_one_set_each(isolated):
    slugs = [json.loads(line)["slug"] for line in cli("agents").stdout.splitlines()]
    interrupted_then_resumed(isolated, slugs)


@pytest.mark.needs_shared
def test_a_killed_batch_over_the_store_export_resumes_to_one_set_each(isolated, shared_dir):
    export = shared_dir / "data" / "autogpt-store-agents.csv"
    assert cli("import", str(export)).returncode == 0
    import csv

    slugs = [row["slug"] for row in csv.DictReader(export.open(encoding="utf-8"))]
    interrupted_then_resumed(isolated, slugs)


def test_batch_selection_and_clear_errors(ws, capsys):
    from imagegen.cli import main

    assert main(["batch", "--category", "no-such-category"]) == 1
    assert "No agent matches that selection." in capsys.readouterr().err
    assert main(["batch", "--slugs", "ai,ghost"]) == 1
    assert "No agent with slug 'ghost'" in capsys.readouterr().err
    assert main(["batch", "--resume", "99"]) == 1
    assert "No batch 99" in capsys.readouterr().err


def test_nothing_is_approved_unless_asked(ws):
    import asyncio

    agents = select_agents(ws, slugs=["ai", "bug-hunter"])
    plain = create_batch(ws, agents, {"provider": "local", "count": 1, "seed": 2})
    asyncio.run(run_batch(ws, plain))
    assert all(ws.get_agent(a.slug).current_thumbnail is None for a in agents)
    approving = create_batch(ws, agents, {"provider": "local", "count": 1, "seed": 2}, auto_approve=True)
    asyncio.run(run_batch(ws, approving))
    assert all(ws.get_agent(a.slug).current_thumbnail for a in agents)


def test_a_paused_batch_stops_between_agents_and_resumes(ws):
    import asyncio

    ws.settings.local_concurrency = 1  # two agents in flight at most
    agents = select_agents(ws, slugs=["ai", "bug-hunter", "sql-sherpa", "lingo-bridge", "trend-radar", "inbox-zero-butler"])
    batch_id = create_batch(ws, agents, {"provider": "local", "count": 1, "seed": 2, "palette": "EMBER"})
    pause_after_first = lambda counts, slug: set_batch_status(ws, batch_id, BatchStatus.PAUSED)  # noqa: E731
    assert asyncio.run(run_batch(ws, batch_id, pause_after_first)) is BatchStatus.PAUSED
    statuses = [i.status.value for i, _ in batch_generations(ws, batch_id)]
    assert "done" in statuses and "pending" in statuses  # agents already in flight finish; no new one starts
    set_batch_status(ws, batch_id, BatchStatus.RUNNING)
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
    items = batch_generations(ws, batch_id)
    assert [i.status.value for i, _ in items] == ["done"] * 6
    assert all(g.recipe.palette.name == "EMBER" for _, g in items)


def test_a_local_batch_keeps_one_agent_per_render_slot_in_flight(ws, monkeypatch):
    """Measured: two agents of 4 images were in flight, so the render pool idled while both
    stored their images (batch at 0.67 of the raw renderer's rate). Each render here waits
    until the batch has as many agents in flight as it will ever have (or 5 s), so the peak
    does not depend on how fast this machine is."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from imagegen import batch
    from imagegen.providers import local

    in_flight, peak, enough = [0], [0], threading.Event()
    real_run, real_render = batch.run_generation, local.render_png

    async def counting_run(ws_, generation_id, **kwargs):
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        if peak[0] >= ws.settings.local_concurrency:
            enough.set()
        try:
            return await real_run(ws_, generation_id, **kwargs)
        finally:
            in_flight[0] -= 1

    def waiting_render(*args, **kwargs):
        enough.wait(5)
        enough.set()  # waited once: the rest go ahead
        return real_render(*args, **kwargs)

    pool = ThreadPoolExecutor(4)  # a patched renderer cannot be pickled into the process pool; threads stand in
    monkeypatch.setattr(batch, "run_generation", counting_run)
    monkeypatch.setattr(local, "render_png", waiting_render)
    monkeypatch.setattr(local, "render_pool", lambda: pool)
    agents = select_agents(ws, slugs=["ai", "bug-hunter", "sql-sherpa", "lingo-bridge", "trend-radar", "inbox-zero-butler"])
    batch_id = create_batch(ws, agents, {"provider": "local", "count": 4, "seed": 2})
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
    pool.shutdown()
    assert ws.settings.local_concurrency == 4 and peak[0] == 4  # one agent per image slot of the renderer


def assert_flat_per_agent(ws, run) -> None:
    """`run(batch_id)` runs a batch of 2, 4 and then 8 agents: the statements sent and the batch
    items loaded must grow by the same amount for each agent added (a reload of the batch's
    items in each agent would grow as n^2)."""
    from sqlalchemy import event

    from imagegen.records import BatchItem
    from imagegen.storage.querycount import count_statements

    loaded = [0]

    def count_load(target, context):
        loaded[0] += 1

    def cost(n: int) -> tuple[int, int]:
        batch_id = create_batch(ws, select_agents(ws)[:n], {"provider": "local", "count": 1, "seed": 3})
        loaded[0] = 0
        with count_statements(ws.engine) as statements:
            run(batch_id)
        assert batch_generations(ws, batch_id) and get_batch(ws, batch_id).status is BatchStatus.DONE
        return len(statements), loaded[0]

    event.listen(BatchItem, "load", count_load)
    try:
        (s2, i2), (s4, i4), (s8, i8) = cost(2), cost(4), cost(8)
    finally:
        event.remove(BatchItem, "load", count_load)
    assert (s8 - s4) == 2 * (s4 - s2) and (i8 - i4) == 2 * (i4 - i2)


def test_the_bookkeeping_per_agent_does_not_grow_with_the_batch(ws):
    """Measured (issue 15): per-agent time grew from 73 ms at 100 agents to 181 ms at 2,000, as each
    agent reloaded every item of its batch."""
    import asyncio

    assert_flat_per_agent(ws, lambda batch_id: asyncio.run(run_batch(ws, batch_id)))


def test_a_local_agent_of_four_images_is_recorded_in_two_writes(ws):
    """Measured (issue 14): a local batch ran at 0.84 of the raw renderer, its own bookkeeping
    taking 7 ms of CPU an image beside the renderer's 36, in twelve write transactions an agent;
    then six, a record for each image taking 1.3 ms of the 2.6 its save cost. Now one write starts
    and claims the agent's job, and one records its four images, ends the job and closes the agent.
    A local batch image (free, redrawn byte for byte, and drawn again by a resume) needs no record
    before its file, nor one of its own."""
    import asyncio

    from sqlalchemy import event

    commits, statements = [0], [0]

    def count(conn):
        commits[0] += 1

    def count_statement(*args):
        statements[0] += 1

    def writes(n: int) -> tuple[int, int]:
        batch_id = create_batch(ws, select_agents(ws)[:n], {"provider": "local", "count": 4, "seed": 5})
        commits[0] = statements[0] = 0
        assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
        return commits[0], statements[0]

    event.listen(ws.engine, "commit", count)
    event.listen(ws.engine, "before_cursor_execute", count_statement)
    try:
        (two, two_statements), (four, four_statements) = writes(2), writes(4)
    finally:
        event.remove(ws.engine, "commit", count)
        event.remove(ws.engine, "before_cursor_execute", count_statement)
    assert (four - two) / 2 == 2
    # Nor is anything read twice: the agent is read with its item and its batch's status, not
    # again to record its job, the job's candidates are read with it at its end, and a built-in
    # template is not looked up among the saved ones (one more statement each). Its candidates
    # are inserted in one statement on SQLite too (the unit of work sent four).
    assert (four_statements - two_statements) / 2 <= 10


def test_a_batch_fanned_out_to_workers_costs_the_same_per_agent_whatever_its_size(ws):
    """On workers each agent is its own job, and each job asked whether its batch was done by
    loading the batch with every one of its items: 2,000 agents meant 2,000 x 2,000 item loads.
    The last agent's job ends the batch."""
    import asyncio

    from imagegen.batch import run_batch_item

    def jobs(batch_id: int) -> None:
        items = [item.id for item, _ in batch_generations(ws, batch_id)]

        async def run() -> None:
            for item_id in items:  # as the workers would, one job an agent
                await run_batch_item(ws, batch_id, item_id)
            await ws.aclose_providers()

        asyncio.run(run())

    assert_flat_per_agent(ws, jobs)


def test_a_retried_job_whose_agent_was_done_still_ends_its_batch(ws, monkeypatch):
    """A worker that died after recording its agent but before ending the batch: Procrastinate
    retries the job, which finds the agent done. If it was the last one, the batch must end
    (it used to stay running for ever, and `batch --follow` with it)."""
    import asyncio

    import imagegen.batch as batch_module
    from imagegen.batch import run_batch_item

    batch_id = create_batch(ws, select_agents(ws)[:2], {"provider": "local", "count": 1, "seed": 3})
    items = [item.id for item, _ in batch_generations(ws, batch_id)]
    real_end = batch_module._end_batch

    async def jobs() -> None:
        await run_batch_item(ws, batch_id, items[0])
        monkeypatch.setattr(batch_module, "_end_batch", lambda *args: None)  # the kill, just before it
        await run_batch_item(ws, batch_id, items[1])
        monkeypatch.setattr(batch_module, "_end_batch", real_end)
        assert get_batch(ws, batch_id).status is BatchStatus.RUNNING
        await run_batch_item(ws, batch_id, items[1])  # the retry
        await ws.aclose_providers()

    asyncio.run(jobs())
    assert get_batch(ws, batch_id).status is BatchStatus.DONE
    assert [gen.id is not None for _, gen in batch_generations(ws, batch_id)] == [True, True]  # no second generation made


def test_a_selection_of_slugs_keeps_their_order_once_each_and_names_the_unknown(ws):
    """What the Batch page and `batch --slugs` select, filtered in SQL."""
    from imagegen.batch import selection_size
    from imagegen.errors import InvalidInput, NotFound

    picked = select_agents(ws, slugs=["trend-radar", "ai", "trend-radar", "bug-hunter"])
    assert [a.slug for a in picked] == ["trend-radar", "ai", "bug-hunter"]  # as given, a repeat once
    assert selection_size(ws, slugs=["trend-radar", "ai", "trend-radar", "bug-hunter"])[0] == 3  # the form says what starts
    with pytest.raises(NotFound, match="'no-such-agent'"):
        select_agents(ws, slugs=["ai", "no-such-agent"], missing=True)
    everyone = select_agents(ws)
    assert [a.slug for a in everyone] == sorted(a.slug for a in everyone) and len(everyone) == 12
    count, first = selection_size(ws)
    assert (count, first.slug) == (12, everyone[0].slug)
    category = next(a.categories[0] for a in everyone if a.categories)
    assert {a.slug for a in select_agents(ws, category=category)} == {a.slug for a in everyone if category in a.categories}
    with pytest.raises(InvalidInput):
        select_agents(ws, category="no such category")


def test_a_batch_stopped_by_a_shutdown_draws_its_running_agents_on_resume(ws):
    """Review: a clean shutdown (closing the app cancels its jobs) ended a batch's running jobs
    canceled, and the resume then failed those agents ("The generation ended canceled.") where
    a kill -9 would have had them drawn again. A batch job that is stopped ends interrupted."""
    import asyncio

    from tests.fakes import stop_once_an_image_is_stored

    batch_id = create_batch(ws, select_agents(ws)[:3], {"provider": "local", "count": 2, "seed": 1})
    stop_once_an_image_is_stored(ws, lambda: run_batch(ws, batch_id))
    stopped_jobs = [gen for _, gen in batch_generations(ws, batch_id) if gen is not None]
    assert stopped_jobs and all(gen.status.value == "interrupted" for gen in stopped_jobs), [(g.status.value, [c.status.value for c in g.candidates]) for g in stopped_jobs]
    if get_batch(ws, batch_id).status is not BatchStatus.RUNNING:
        set_batch_status(ws, batch_id, BatchStatus.RUNNING)
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
    items = batch_generations(ws, batch_id)
    assert [(item.status.value, item.error) for item, _ in items] == [("done", None)] * 3
    assert all(c.status.value == "succeeded" and ws.media.exists(c.image_key) for _, gen in items for c in gen.candidates)


def test_a_shutdown_while_an_agent_is_being_started_leaves_its_job_interrupted(ws, monkeypatch):
    """A shutdown that lands while an agent's job is being recorded and claimed (in a worker thread,
    which finishes the write) must not leave that job claimed by nobody, running for ever."""
    import asyncio
    import contextlib
    import threading

    from imagegen import batch

    real_start, claiming = batch.start_claimed, threading.Event()

    def slow_start(*args, **kwargs):
        claiming.set()
        time.sleep(0.2)  # the shutdown is delivered meanwhile
        return real_start(*args, **kwargs)

    monkeypatch.setattr(batch, "start_claimed", slow_start)
    batch_id = create_batch(ws, select_agents(ws)[:1], {"provider": "local", "count": 2, "seed": 1})

    async def shut_down_while_starting():
        task = asyncio.ensure_future(run_batch(ws, batch_id))
        while not claiming.is_set():
            await asyncio.sleep(0.001)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(shut_down_while_starting())
    [(item, gen)] = batch_generations(ws, batch_id)
    assert gen.status.value == "interrupted" and [c.status.value for c in gen.candidates] == ["interrupted"] * 2
    monkeypatch.setattr(batch, "start_claimed", real_start)
    if get_batch(ws, batch_id).status is not BatchStatus.RUNNING:
        set_batch_status(ws, batch_id, BatchStatus.RUNNING)
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE  # the resume makes it
    [(item, gen)] = batch_generations(ws, batch_id)
    assert item.status.value == "done" and [c.status.value for c in gen.candidates] == ["succeeded"] * 2


def test_an_unforeseen_error_in_one_agent_stops_the_batch_run_from_starting_others(ws, monkeypatch):
    """The batch run waits for every agent in flight before it raises (see the shutdown tests); it
    must not go on starting the rest of the batch after an error it did not foresee."""
    import asyncio

    from imagegen import batch

    real_run_item, calls = batch._run_item, []

    async def failing_first(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return await real_run_item(*args, **kwargs)

    monkeypatch.setattr(batch, "_run_item", failing_first)
    batch_id = create_batch(ws, select_agents(ws)[:30], {"provider": "local", "count": 1, "seed": 1})
    with pytest.raises(RuntimeError):
        asyncio.run(run_batch(ws, batch_id))
    assert len(calls) <= 8  # at most the agents already in flight (one a worker), not all 30


def test_following_a_stopped_batch_waits_for_its_running_agents_while_their_runners_live(ws):
    """The CLI on workers follows a batch from the database: once it stops, an agent whose job
    is still held by a live runner is waited for, so its result counts it; one whose runner
    died (its lease ran out) is not."""
    import threading
    from datetime import timedelta

    from imagegen.batch import follow_batch
    from imagegen.generation import start_generation
    from imagegen.recipes import make_spec
    from imagegen.records import Generation, GenerationStatus, transition, utcnow

    agent = select_agents(ws)[0]
    batch_id = create_batch(ws, [agent], {"provider": "local", "count": 1})
    with ws.session() as s:
        item_id = s.scalar(text("SELECT id FROM batch_items"))
    gen_id = start_generation(ws, agent.slug, make_spec(ws, agent, provider="local", count=1), batch_item_id=item_id)
    set_batch_status(ws, batch_id, BatchStatus.PAUSED)

    def job(status: GenerationStatus | None = None, lease: timedelta | None = None) -> None:
        with ws.session() as s, s.begin():
            gen = s.get(Generation, gen_id)
            if status is not None:
                transition(gen, status)
            if lease is not None:
                gen.lease_until = utcnow() + lease

    job(GenerationStatus.RUNNING, lease=timedelta(minutes=5))  # a live worker's
    ended: list[BatchStatus] = []
    follower = threading.Thread(target=lambda: ended.append(follow_batch(ws, batch_id, poll=0.02)), daemon=True)
    follower.start()
    follower.join(0.5)
    assert ended == []  # still waiting for the running agent
    job(lease=timedelta(seconds=-1))  # its worker died: nobody renews the lease
    follower.join(5)
    assert ended == [BatchStatus.PAUSED]
    # A job just ended whose agent its runner is still closing (an auto-approval, a failure's
    # record) is waited for too, for as long as a lease would last.
    with ws.session() as s, s.begin():
        gen = s.get(Generation, gen_id)
        transition(gen, GenerationStatus.SUCCEEDED)
        gen.finished_at = utcnow()
    ended.clear()
    follower = threading.Thread(target=lambda: ended.append(follow_batch(ws, batch_id, poll=0.02)), daemon=True)
    follower.start()
    follower.join(0.5)
    assert ended == []
    with ws.session() as s, s.begin():
        s.get(Generation, gen_id).finished_at = utcnow() - timedelta(seconds=2 * ws.settings.lease_seconds)
    follower.join(5)
    assert ended == [BatchStatus.PAUSED]
