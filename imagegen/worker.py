"""`python -m imagegen worker`: a Procrastinate worker that runs generations and batch agents.

Start as many as wanted, on any machine that reaches the PostgreSQL database and the media
store. Each job names a row; the row's lease says who runs it. A worker killed mid-job
stops renewing its heartbeat and its leases: another worker puts the job back on the queue
(Procrastinate's stalled-job retry), waits for the dead worker's lease to expire, adopts the
images it stored, and asks the provider only for the candidates that never landed.
SIGTERM (or Ctrl-C) stops taking jobs and lets the running ones finish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import procrastinate
from sqlalchemy import select

from imagegen.batch import run_batch_item
from imagegen.errors import BudgetExceeded, ImagegenError
from imagegen.generation import recover_expired, requeue_interrupted, run_generation
from imagegen.leases import expired
from imagegen.queue import BATCH_ITEM_TASK, GENERATION_TASK, ensure_queue_schema, procrastinate_app
from imagegen.records import BatchItem, GenerationStatus, utcnow
from imagegen.storage.db import CONNECTIONS

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

log = logging.getLogger(__name__)


def take_over(ws: "Workspace", generation_id: int, *, requeue: bool = True) -> bool:
    """Make a job this worker may run: False if a live runner still holds it.

    A job retried after its worker died may still carry that worker's lease: wait for it to
    expire (a live runner keeps renewing it, and keeps the job), then recover what was left:
    stored images are adopted, the rest is interrupted and (with `requeue`) queued again."""
    deadline = time.monotonic() + 2 * ws.settings.lease_seconds + 1
    while True:
        gen = ws.get_generation(generation_id)
        if gen.status is GenerationStatus.RUNNING and gen.lease_owner != ws.owner:
            if not expired(gen.lease_until, utcnow()):
                if time.monotonic() > deadline:
                    return False
                time.sleep(min(0.5, ws.settings.lease_seconds / 4))
                continue
            recover_expired(ws)
            gen = ws.get_generation(generation_id)
        if requeue and gen.status is GenerationStatus.INTERRUPTED:
            requeue_interrupted(ws, generation_id)
        return True


async def run_queued_generation(ws: "Workspace", generation_id: int) -> None:
    try:
        if not await asyncio.to_thread(take_over, ws, generation_id):
            log.info("generation %s is still held by a live runner; leaving it to it", generation_id)
            return
    except BudgetExceeded as exc:  # what is left to pay no longer fits today's budget: it stays interrupted
        log.warning("generation %s not resumed: %s", generation_id, exc)
        return
    if (await asyncio.to_thread(ws.get_generation, generation_id)).status is GenerationStatus.QUEUED:
        await run_generation(ws, generation_id)


async def run_queued_item(ws: "Workspace", batch_id: int, item_id: int) -> None:
    def generation_of() -> int | None:
        with ws.session() as s:
            return s.scalar(select(BatchItem.generation_id).where(BatchItem.id == item_id))

    generation_id = await asyncio.to_thread(generation_of)
    # An interrupted job (held back by a Pause, or cut short) is queued again by the agent's own
    # run, after it has read the batch's status and where the budget's refusal pauses the batch.
    if generation_id is not None and not await asyncio.to_thread(take_over, ws, generation_id, requeue=False):
        log.info("batch item %s is still held by a live runner; leaving it to it", item_id)
        return
    await run_batch_item(ws, batch_id, item_id)


async def generation_job(context, generation_id: int) -> None:
    await run_queued_generation(context.additional_context["workspace"], generation_id)


async def batch_item_job(context, batch_id: int, item_id: int) -> None:
    await run_queued_item(context.additional_context["workspace"], batch_id, item_id)


async def retry_stalled_jobs(app: procrastinate.App, ws: "Workspace") -> None:
    """Put back on the queue the jobs of workers that stopped sending heartbeats (killed, cut off)."""
    while True:
        await asyncio.sleep(ws.settings.lease_seconds / 3)
        try:
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=ws.settings.lease_seconds):
                log.warning("job %s (%s) was left by a stalled worker; retrying it", job.id, job.task_name)
                await app.job_manager.retry_job(job)
        except Exception:  # another worker retried it first, or the database blinked: next tick
            log.exception("could not retry stalled jobs")


def run_worker(ws: "Workspace", *, concurrency: int, queues: list[str] | None) -> None:
    """Run jobs until SIGTERM or SIGINT; the running ones finish first."""
    if ws.engine.dialect.name != "postgresql":
        raise ImagegenError("Workers need PostgreSQL: set IMAGEGEN_DATABASE_URL=postgresql+psycopg://...")
    ensure_queue_schema(ws.engine)
    # `concurrency` jobs call providers at once; as many again claim, download and save meanwhile
    # (`CallTurns`), each on a thread of its own, so a call that ends is followed at once.
    ws.calling_jobs, jobs = concurrency, 2 * concurrency
    app = procrastinate_app(ws.settings, pool_size=jobs + 4)
    app.task(name=GENERATION_TASK, pass_context=True)(generation_job)
    app.task(name=BATCH_ITEM_TASK, pass_context=True)(batch_item_job)
    lease = ws.settings.lease_seconds

    async def main() -> None:
        # A thread for each job's database and file work, but never more than the sessions' connections.
        threads = min(jobs + 4, CONNECTIONS)
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="imagegen-worker"))
        async with app.open_async():
            retrying = asyncio.create_task(retry_stalled_jobs(app, ws))
            try:
                await app.run_worker_async(
                    queues=queues, concurrency=jobs, name=f"imagegen-{ws.owner[:8]}",
                    additional_context={"workspace": ws}, abort_job_polling_interval=1.0,
                    # A worker is stalled after one lease without a heartbeat: the same clock as row leases.
                    update_heartbeat_interval=lease / 4, stalled_worker_timeout=lease,
                )
            finally:
                retrying.cancel()
                await ws.aclose_providers()

    asyncio.run(main())
