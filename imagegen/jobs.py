"""Running jobs: one `open_workspace()` that recovers what expired leases left, and the JobRunner.

`open_workspace` is how the app, the CLI and scripts get a Workspace: it opens the
resources, ends the jobs and pauses the batches whose lease expired, sweeps temporary media
files whose owner holds no live lease, loads the sample agents into an empty catalog, and
attaches the job queue: a JobRunner in this process, or on PostgreSQL a Procrastinate queue
that `python -m imagegen worker` processes serve (see imagegen/queue.py). Nothing here looks
at process ids.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

from sqlalchemy import func, select

from imagegen.batch import recover_batches, run_batch
from imagegen.catalog import load_sample_agents
from imagegen.generation import recover_expired, run_generation, start_generation
from imagegen.leases import live_owners
from imagegen.queue import ProcrastinateQueue, ensure_queue_schema, uses_workers
from imagegen.records import Agent, GenerationSpec
from imagegen.settings import Settings
from imagegen.workspace import Workspace

log = logging.getLogger(__name__)


def open_workspace(settings: Settings | None = None, *, load_samples: bool = True) -> Workspace:
    ws = Workspace(settings or Settings())
    workers = uses_workers(ws.settings)
    if workers:
        ensure_queue_schema(ws.engine)
    # With workers, a batch's agents are queue jobs (retried by the queue), so no batch is paused here.
    ws.interrupted_on_start, ws.paused_on_start, ws.swept_on_start = recover(ws, batches=not workers)
    if load_samples:
        with ws.session() as s, s.begin():
            if not s.scalar(select(func.count(Agent.id))):
                load_sample_agents(s)
    ws.jobs = ProcrastinateQueue(ws) if workers else JobRunner(ws)
    return ws


def submit_generation(ws: Workspace, agent_slug: str, spec: GenerationSpec, **kwargs) -> int:
    """Record a job (its estimate reserved) and hand it to this workspace's runner; returns its id."""
    generation_id = start_generation(ws, agent_slug, spec, **kwargs)
    ws.jobs.submit(generation_id)
    return generation_id


def recover(ws: Workspace, *, batches: bool = True) -> tuple[int, int, int]:
    """(jobs interrupted, batches paused, temporary files removed): only where leases expired."""
    interrupted = recover_expired(ws)
    paused = recover_batches(ws) if batches else 0
    swept = ws.media.remove_partial_files(live_owners(ws), min_age=ws.settings.lease_seconds)
    return interrupted, paused, swept


class JobRunner:
    """The in-process JobQueue (SQLite, `make run`): runs generations and batches on one asyncio loop in a daemon thread, outside any UI
    script thread. Jobs belong to the runner, not to a browser session: a rerun, a refresh
    or a closed tab does not touch them. `cancel` stops one early; `stop` stops them all.
    An exception that escapes a job is logged, never dropped."""

    def __init__(self, ws: Workspace):
        self._ws = ws
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._jobs: dict[tuple[str, int], concurrent.futures.Future] = {}

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name=f"imagegen-jobs-{self._ws.owner[:8]}", daemon=True).start()
                self._loop = loop
            return self._loop

    def submit(self, generation_id: int) -> concurrent.futures.Future:
        return self._start(("generation", generation_id), run_generation(self._ws, generation_id))

    def submit_batch(self, batch_id: int) -> concurrent.futures.Future:
        return self._start(("batch", batch_id), run_batch(self._ws, batch_id))

    def _start(self, key: tuple[str, int], coroutine) -> concurrent.futures.Future:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._ensure_loop())
        with self._lock:
            self._jobs[key] = future
        future.add_done_callback(lambda f: self._done(key, f))
        return future

    def _done(self, key: tuple[str, int], future: concurrent.futures.Future) -> None:
        with self._lock:
            self._jobs.pop(key, None)
        if not future.cancelled() and future.exception() is not None:
            log.error("%s %s stopped with an error", *key, exc_info=future.exception())

    def cancel(self, generation_id: int) -> bool:
        with self._lock:
            future = self._jobs.get(("generation", generation_id))
        return bool(future and future.cancel())

    def wait(self, job_id: int, timeout: float, kind: str = "generation") -> None:
        with self._lock:
            future = self._jobs.get((kind, job_id))
        if future is not None:
            concurrent.futures.wait([future], timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every job (each ends canceled, keeping what landed) and stop the loop."""
        with self._lock:
            loop, futures = self._loop, list(self._jobs.values())
            self._loop = None
        for future in futures:
            future.cancel()
        if loop is not None:
            async def settle() -> None:  # let the canceled jobs record their ending
                pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                await asyncio.wait(pending, timeout=timeout) if pending else None

            try:
                asyncio.run_coroutine_threadsafe(settle(), loop).result(timeout + 1)
            except (concurrent.futures.TimeoutError, RuntimeError):
                log.warning("jobs were still ending when the runner stopped")
            loop.call_soon_threadsafe(loop.stop)
