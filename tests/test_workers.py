"""Workers on Procrastinate: real `python -m imagegen worker` processes on PostgreSQL and S3.

PostgreSQL only (workers need it): they skip visibly on SQLite, except the one-line refusal.
Every child process is killed in a `finally`; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from select import select as readable
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from imagegen.jobs import open_workspace
from imagegen.records import Batch, BatchItem, BatchStatus, Candidate, CandidateStatus, Generation, GenerationSpec, GenerationStatus
from imagegen.settings import Settings
from tests.conftest import BACKEND, ROOT
from tests.fakes import wait_until

postgresql_only = pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL only (IMAGEGEN_TEST_BACKEND=postgresql): workers need it")


@contextlib.contextmanager
def started(*commands: list[str], logs: Path):
    """Child processes of `python -m imagegen ...`, each logging to its own file; all killed on exit."""
    procs = []
    try:
        for i, args in enumerate(commands):
            log = open(logs / f"{args[0]}-{i}.log", "w")
            procs.append(subprocess.Popen([sys.executable, "-m", "imagegen", *args], stdout=log, stderr=subprocess.STDOUT,
                                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=logs))
            log.close()
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def log_of(logs: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))


def slow_ideogram(latency: float, gate: threading.Event | None = None):
    """A fake Ideogram whose every call takes `latency` seconds (or, with a `gate`, until the test
    sets it, at most 60 s), counting the images in flight on connections still open (`peak_live`):
    a killed worker's abandoned call stops counting when its connection drops, as its slots in
    PostgreSQL do."""
    from tests.fake_ideogram import FakeIdeogram, _Handler

    class Handler(_Handler):
        def _answer(self, fault, fields, response_schema, upscale=False):
            srv, images = self.server, int(fields.get("num_images", 1))
            with srv.lock:
                srv.live += images
                srv.peak_live = max(srv.peak_live, srv.live)
            try:
                end = time.monotonic() + (60 if gate else latency)
                while (left := end - time.monotonic()) > 0 and not (gate and gate.is_set()):
                    if readable([self.connection], [], [], min(left, 0.01))[0] and not self.connection.recv(1, socket.MSG_PEEK):
                        break  # the client is gone
            finally:
                with srv.lock:
                    srv.live -= images
            super()._answer(fault, fields, response_schema, upscale)

    server = FakeIdeogram(max_requests=3000, lifetime=240)
    server.RequestHandlerClass = Handler
    server.live = server.peak_live = 0
    return server


@pytest.fixture
def fake(monkeypatch):
    """A fake Ideogram whose every call takes 0.3 s and which records its concurrent images."""
    from tests.fake_ideogram import KEY

    server = slow_ideogram(0.3).start()
    for name, value in {"IDEOGRAM_API_KEY": KEY, "IDEOGRAM_BASE_URL": server.base_url, "IMAGEGEN_DOWNLOAD_HOSTS": server.base_url}.items():
        monkeypatch.setenv(name, value)
    yield server
    server.stop()


@pytest.fixture
def cluster_env(isolated, fake, s3_env, monkeypatch):
    """What every process of a several-machine setup shares: PostgreSQL, S3, the queue, short leases."""
    monkeypatch.setenv("IMAGEGEN_MEDIA_URL", s3_env)
    monkeypatch.setenv("IMAGEGEN_JOB_QUEUE", "procrastinate")
    monkeypatch.setenv("IMAGEGEN_LEASE_SECONDS", "3")
    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "3")
    logs = isolated / "logs"
    logs.mkdir()
    return logs


def add_agents(ws, count: int, category: str) -> list[str]:
    from imagegen.catalog import import_catalog

    slugs = [f"{category}-{i:03d}" for i in range(count)]
    import_catalog(ws, [{"slug": s, "name": f"Agent {s}", "categories": [category]} for s in slugs])
    return slugs


def paid_candidates(ws) -> list[Candidate]:
    with ws.session() as s:
        return list(s.scalars(select(Candidate).where(Candidate.status == CandidateStatus.SUCCEEDED)))


@postgresql_only
def test_a_batch_fans_out_over_two_workers_and_survives_one_killed(cluster_env, fake):
    ws = open_workspace(Settings())
    try:
        add_agents(ws, 60, "fleet")
        worker = ["worker", "--concurrency", "4", "--queues", "ideogram"]
        with started(worker, worker, logs=cluster_env) as (one, two), \
                started(["batch", "--category", "fleet", "--provider", "ideogram", "--count", "1"], logs=cluster_env) as (cli,):
            wait_until(lambda: len(paid_candidates(ws)) >= 15, 90, "a quarter of the batch")
            one.send_signal(signal.SIGKILL)
            one.wait(timeout=10)
            killed_at = len(fake.requests)
            finished_at_kill = {c.seed for c in paid_candidates(ws)}
            cli.wait(timeout=120)  # a bound for a loaded machine; alone it ends in about 15 s
            two.send_signal(signal.SIGTERM)  # a clean stop: no job running, so it exits at once
            assert two.wait(timeout=30) == 0, log_of(cluster_env)
        assert cli.returncode == 0, log_of(cluster_env)
        with ws.session() as s:
            batch_id = s.scalar(select(func.max(Batch.id)))
            per_agent = dict(s.execute(select(BatchItem.agent_id, func.count(Generation.id)).join(Generation, Generation.id == BatchItem.generation_id)
                                       .where(BatchItem.batch_id == batch_id).group_by(BatchItem.agent_id)).all())
            assert s.scalar(select(Batch.status).where(Batch.id == batch_id)) is BatchStatus.DONE
        # Every agent has exactly one generation, and every image asked for landed in S3 and is kept.
        assert len(per_agent) == 60 and set(per_agent.values()) == {1}
        paid = paid_candidates(ws)
        assert len(paid) == 60 and all(ws.media.exists(c.image_key) for c in paid)
        # No provider request for a candidate that had already landed when the worker died.
        seeds_after = [r.get("seed") for r in fake.requests[killed_at:]]
        assert not finished_at_kill & set(seeds_after)
        # At most the killed worker's jobs are asked again: its 2 x 4 jobs (those with a call out,
        # and those whose answer was in but whose image was not yet recorded).
        assert len(fake.requests) <= 60 + 2 * 4
        assert 1 < fake.peak_live <= 3  # the global in-flight limit, across both workers
        assert not fake.problems
    finally:
        ws.close()


@postgresql_only
def test_cancel_from_the_app_stops_a_job_running_on_a_worker(cluster_env, fake, monkeypatch):
    from imagegen.jobs import submit_generation

    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "1")  # three one-image calls, one after another
    fake.RequestHandlerClass = slow_ideogram(4.0).RequestHandlerClass  # the Cancel lands well inside the second call
    ws = open_workspace(Settings())
    try:
        with started(["worker", "--concurrency", "2"], logs=cluster_env):
            gen_id = submit_generation(ws, "trend-radar", GenerationSpec(provider="ideogram", prompt="a lighthouse", count=3))
            wait_until(lambda: paid_candidates(ws), 60, "the first candidate")
            assert ws.jobs.cancel(gen_id)  # what the studio's Cancel button calls
            wait_until(lambda: ws.get_generation(gen_id).status.finished, 30, "the worker to stop the job")
        gen = ws.get_generation(gen_id)
        assert gen.status is GenerationStatus.CANCELED, log_of(cluster_env)
        statuses = sorted(c.status.value for c in gen.candidates)
        assert statuses == ["canceled", "canceled", "succeeded"]  # the landed one is kept
        assert ws.media.exists(next(c for c in gen.candidates if c.image_key).image_key)
        assert len(fake.requests) == 2  # the third call was never made
    finally:
        ws.close()


@postgresql_only
def test_cancel_of_a_job_no_worker_has_taken_yet_ends_it_at_once(cluster_env):
    from imagegen.jobs import submit_generation

    ws = open_workspace(Settings())
    try:
        gen_id = submit_generation(ws, "trend-radar", GenerationSpec(provider="ideogram", prompt="a lighthouse", count=2))
        assert ws.get_generation(gen_id).status is GenerationStatus.QUEUED  # nothing runs in this process
        assert ws.jobs.cancel(gen_id)
        gen = ws.get_generation(gen_id)
        assert gen.status is GenerationStatus.CANCELED and {c.status for c in gen.candidates} == {CandidateStatus.CANCELED}
        assert gen.reserved_usd == 0
    finally:
        ws.close()


@postgresql_only
def test_the_budget_holds_across_two_worker_processes(cluster_env, fake, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_DAILY_BUDGET", "0.30")  # five Ideogram images at $0.06
    fake.faults.extend([{"delay": 2.0}] * 5)  # the five calls within the budget are still out as the sixth agent is refused
    ws = open_workspace(Settings())
    try:
        add_agents(ws, 12, "thrifty")
        worker = ["worker", "--concurrency", "4"]
        with started(worker, worker, logs=cluster_env), \
                started(["batch", "--category", "thrifty", "--provider", "ideogram", "--count", "1"], logs=cluster_env) as (cli,):
            cli.wait(timeout=90)
            # The CLI ended only once those five agents had: they are paid for, and its result counts
            # them (it ended at the pause, with their jobs running, and a test that then stopped the
            # workers at once saw 3 calls of 5 in one CI run).
            with ws.session() as s:
                jobs = list(s.execute(select(Generation.status, Generation.error).order_by(Generation.id)))
            assert [status for status, _ in jobs] == [GenerationStatus.SUCCEEDED] * 5, (jobs, log_of(cluster_env))
        assert cli.returncode == 1, log_of(cluster_env)  # paused by the budget, finished agents kept
        out = (cluster_env / "batch-0.log").read_text()
        result, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "batch"'):])
        assert result["status"] == "paused" and [i["status"] for i in result["items"]].count("done") == 5, out
        with ws.session() as s:
            spent = s.scalar(select(func.sum(Generation.cost_usd + Generation.reserved_usd)))
            status = s.scalar(select(Batch.status))
        assert len(fake.requests) == 5
        assert spent <= 0.30 + 1e-9
        assert status is BatchStatus.PAUSED
    finally:
        ws.close()


@pytest.mark.skipif(BACKEND != "sqlite", reason="the refusal on SQLite")
def test_a_worker_on_sqlite_is_refused_in_one_line(isolated):
    done = subprocess.run([sys.executable, "-m", "imagegen", "worker"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "need PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr


def test_asking_for_the_procrastinate_queue_on_sqlite_is_one_clear_error(isolated, monkeypatch):
    from imagegen.errors import ConfigError

    if BACKEND != "sqlite":
        pytest.skip("the refusal on SQLite")
    monkeypatch.setenv("IMAGEGEN_JOB_QUEUE", "procrastinate")
    with pytest.raises(ConfigError, match="need PostgreSQL"):
        open_workspace(Settings())


@postgresql_only
def test_the_batch_page_only_enqueues_and_shows_the_workers_progress(cluster_env, fake, request):
    from tests.test_pages import _picked_batch_label, open_page

    at = request.getfixturevalue("app")  # a web server (queue mode: this process runs no job)
    open_page(at, "batch")
    at.segmented_control(key="batch_how").set_value("A list of slugs").run()
    at.text_input(key="batch_slugs").input("ai, lingo-bridge, sql-sherpa").run()
    at.button(key="batch_start").click().run()
    time.sleep(1.0)
    at.run()
    assert _picked_batch_label(at).endswith(" · running")
    assert "0 of 3 agents" in at.get("progress")[0].proto.text  # nothing ran here
    with started(["worker", "--concurrency", "2"], logs=cluster_env):
        def done() -> bool:
            at.run()
            return _picked_batch_label(at).endswith(" · done")

        wait_until(done, 90, "the page to show the batch done", poll=0.5)
    assert "3 of 3 agents · done" in at.get("progress")[0].proto.text, log_of(cluster_env)
    assert len(fake.requests) == 3  # one call per agent, made by the worker


@postgresql_only
def test_sigterm_lets_the_running_job_finish_then_the_worker_exits(cluster_env, fake, monkeypatch):
    from imagegen.jobs import submit_generation

    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "1")
    fake.RequestHandlerClass = slow_ideogram(1.0).RequestHandlerClass
    ws = open_workspace(Settings())
    try:
        with started(["worker"], logs=cluster_env) as (worker,):
            gen_id = submit_generation(ws, "trend-radar", GenerationSpec(provider="ideogram", prompt="a lighthouse", count=2))
            wait_until(lambda: ws.get_generation(gen_id).status is GenerationStatus.RUNNING, 60, "the worker to take the job")
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0, log_of(cluster_env)
        gen = ws.get_generation(gen_id)
        assert gen.status is GenerationStatus.SUCCEEDED and [c.status for c in gen.candidates] == [CandidateStatus.SUCCEEDED] * 2
    finally:
        ws.close()


@postgresql_only
def test_shared_slots_never_exceed_the_limit_and_a_dropped_connection_frees_its_slots(ws):
    """Two processes' limiters (two engines) with weighted calls; then a holder whose connection dies."""
    from imagegen.leases import SharedImageLimiter, in_flight_engine

    engines = [in_flight_engine(ws.settings.resolved_database_url, pool_size=8) for _ in range(2)]
    held, peak = [0], [0]

    async def call(limiter, images: int) -> None:
        async with limiter.hold(images):
            held[0] += images
            peak[0] = max(peak[0], held[0])
            await asyncio.sleep(0.1)
            held[0] -= images

    async def run() -> None:
        limiters = [SharedImageLimiter(e, "ideogram", 5) for e in engines]
        await asyncio.gather(*(call(limiters[i % 2], 1 + i % 3) for i in range(30)))

    try:
        asyncio.run(run())
        assert 3 < peak[0] <= 5  # both "processes" held slots at once (3 is the biggest call), never more than 5
        # A holder that dies mid-call (its connection dropped) gives its slots back.
        limiter = SharedImageLimiter(engines[0], "ideogram", 2)
        conn = limiter._try_take(2)
        assert conn is not None and limiter._try_take(1) is None
        conn.invalidate()  # like a killed worker: the server ends the session once it sees the socket closed
        taken = wait_until(lambda: limiter._try_take(2), 10, "the dropped connection's slots")
        taken.close()
    finally:
        for engine in engines:
            engine.dispose()


@postgresql_only
def test_slots_freed_in_this_process_wake_its_waiting_call_at_once(ws, monkeypatch):
    """A job waiting for a slot in the same worker starts when a slot is handed back, not at the
    next poll (here a minute away): a worker keeps the provider's whole budget busy."""
    from imagegen.leases import SharedImageLimiter, in_flight_engine

    monkeypatch.setattr(SharedImageLimiter, "POLL_SECONDS", 60.0)
    engine = in_flight_engine(ws.settings.resolved_database_url, pool_size=4)
    order: list[str] = []

    async def call(limiter, name: str) -> None:
        async with limiter.hold(1):
            order.append(name)
            await asyncio.sleep(0.05)

    async def run() -> None:
        limiter = SharedImageLimiter(engine, "ideogram", 1)
        await asyncio.wait_for(asyncio.gather(*(call(limiter, f"call {i}") for i in range(3))), timeout=30)

    try:
        asyncio.run(run())
        assert order == ["call 0", "call 1", "call 2"]
    finally:
        engine.dispose()


@postgresql_only
def test_a_worker_without_the_providers_key_fails_the_agent_in_one_line(cluster_env, fake, monkeypatch):
    ws = open_workspace(Settings())
    try:
        add_agents(ws, 2, "keyless")
        env = {k: v for k, v in os.environ.items() if k != "IDEOGRAM_API_KEY"}
        with started(["batch", "--category", "keyless", "--provider", "ideogram", "--count", "1"], logs=cluster_env) as (cli,):
            log = open(cluster_env / "keyless-worker.log", "w")
            worker = subprocess.Popen([sys.executable, "-m", "imagegen", "worker"], stdout=log, stderr=subprocess.STDOUT,
                                      env={**env, "PYTHONPATH": str(ROOT)}, cwd=cluster_env)
            try:
                cli.wait(timeout=60)
            finally:
                worker.kill()
                worker.wait(timeout=30)
                log.close()
        with ws.session() as s:
            errors = list(s.scalars(select(BatchItem.error)))
        assert len(errors) == 2 and all(e and "IDEOGRAM_API_KEY" in e and "\n" not in e for e in errors), log_of(cluster_env)
        assert cli.returncode == 1 and not fake.requests
    finally:
        ws.close()


@postgresql_only
def test_a_job_that_waited_in_the_queue_past_its_lease_still_runs_once(cluster_env, fake):
    from imagegen.jobs import submit_generation

    ws = open_workspace(Settings())
    try:
        gen_id = submit_generation(ws, "trend-radar", GenerationSpec(provider="ideogram", prompt="a lighthouse", count=2))
        time.sleep(3.5)  # past IMAGEGEN_LEASE_SECONDS with no worker running
        open_workspace(Settings()).close()  # another web server starting recovers what expired
        assert ws.get_generation(gen_id).status is GenerationStatus.INTERRUPTED
        with started(["worker"], logs=cluster_env):
            wait_until(lambda: ws.get_generation(gen_id).status.finished and ws.get_generation(gen_id).status is not GenerationStatus.INTERRUPTED,
                       60, "a worker to run the job")
        gen = ws.get_generation(gen_id)
        assert gen.status is GenerationStatus.SUCCEEDED, log_of(cluster_env)
        assert [c.status for c in gen.candidates] == [CandidateStatus.SUCCEEDED] * 2 and len(fake.requests) == 1
    finally:
        ws.close()


@postgresql_only
def test_a_worker_calls_its_concurrency_at_once_while_as_many_jobs_again_get_ready(cluster_env, fake, monkeypatch):
    """`--concurrency 1`: one call out at a time, and the next agent's job is already claimed
    while it is out (it used to be fetched only once the first job had saved and ended)."""
    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "10")  # the worker's own share is the bound here
    fake.RequestHandlerClass = slow_ideogram(1.5).RequestHandlerClass
    ws = open_workspace(Settings())
    try:
        add_agents(ws, 2, "pair")
        with started(["worker", "--concurrency", "1"], logs=cluster_env), \
                started(["batch", "--category", "pair", "--provider", "ideogram", "--count", "1"], logs=cluster_env) as (cli,):
            cli.wait(timeout=90)
        assert cli.returncode == 0, log_of(cluster_env)
        with ws.session() as s:
            claimed = list(s.scalars(select(Generation.started_at)))
            first_landed = s.scalar(select(func.min(Candidate.finished_at)))
        assert len(claimed) == 2 and max(claimed) < first_landed
        assert fake.peak_live == 1 and len(fake.requests) == 2
    finally:
        ws.close()


@postgresql_only
def test_a_pause_holds_back_the_job_a_worker_has_ready_and_resume_pays_it_once(cluster_env, fake, monkeypatch):
    """At `--concurrency 1` a worker runs two jobs: the second claims its agent while the first
    call is out. A Pause then used to let it call, and be paid for, once the first call was
    answered. Now it sends nothing, its agent stays pending, and a resume runs that same job."""
    from imagegen.batch import set_batch_status

    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "10")
    answer = threading.Event()  # the first call stays out until the Pause is in
    fake.RequestHandlerClass = slow_ideogram(0, answer).RequestHandlerClass
    ws = open_workspace(Settings())

    def jobs(status: GenerationStatus) -> int:
        with ws.session() as s:
            return s.scalar(select(func.count(Generation.id)).where(Generation.status == status))

    try:
        add_agents(ws, 2, "held")
        with started(["worker", "--concurrency", "1"], logs=cluster_env):
            with started(["batch", "--category", "held", "--provider", "ideogram", "--count", "1"], logs=cluster_env) as (cli,):
                wait_until(lambda: fake.live == 1 and jobs(GenerationStatus.RUNNING) == 2, 60, "one call out, both jobs claimed")
                with ws.session() as s:
                    batch_id = s.scalar(select(Batch.id))
                set_batch_status(ws, batch_id, BatchStatus.PAUSED)
                answer.set()
                cli.wait(timeout=60)
            def done() -> int:
                with ws.session() as s:
                    return s.scalar(select(func.count(BatchItem.id)).where(BatchItem.status == "done"))

            wait_until(lambda: jobs(GenerationStatus.RUNNING) == 0 and done() >= 1, 60, "both jobs to end, one agent done")
            assert len(fake.requests) == 1, log_of(cluster_env)
            assert (jobs(GenerationStatus.SUCCEEDED), jobs(GenerationStatus.INTERRUPTED)) == (1, 1)
            with ws.session() as s:
                assert sorted(s.scalars(select(BatchItem.status))) == ["done", "pending"]
            with started(["batch", "--resume", str(batch_id)], logs=cluster_env) as (resumed,):
                resumed.wait(timeout=60)
            assert resumed.returncode == 0, log_of(cluster_env)
        assert len(fake.requests) == 2  # one call an agent
        with ws.session() as s:
            assert sorted(s.scalars(select(BatchItem.status))) == ["done", "done"]
            assert s.scalar(select(func.count(Generation.id))) == 2  # the held-back job resumed; none was added
    finally:
        ws.close()


@postgresql_only
def test_a_batch_goes_on_the_queue_in_one_statement_and_a_second_submit_adds_nothing(cluster_env, monkeypatch):
    from imagegen.batch import create_batch, select_agents

    ws = open_workspace(Settings())
    try:
        add_agents(ws, 30, "bulk")
        batch_id = create_batch(ws, select_agents(ws, category="bulk"), {"provider": "ideogram", "count": 1})
        manager = ws.jobs._opened().job_manager
        batch_defer, deferred = manager.batch_defer_jobs, []
        monkeypatch.setattr(manager, "batch_defer_jobs", lambda jobs, **kw: (deferred.append(len(jobs)), batch_defer(jobs, **kw))[1])
        ws.jobs.submit_batch(batch_id)
        assert deferred == [30]  # one round trip for the batch, not one per agent
        ws.jobs.submit_batch(batch_id)  # a resume while every agent still waits for a worker
        waiting = manager.list_jobs(status="todo")
        assert len(waiting) == 30 and len({job.task_kwargs["item_id"] for job in waiting}) == 30
    finally:
        ws.close()
