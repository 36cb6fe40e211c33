"""The job-queue seam: where a recorded job goes to be run.

Two implementations of one small interface (`submit`, `submit_batch`, `cancel`, `wait`, `stop`):

- `imagegen.jobs.JobRunner`: this process runs the job on its own loop (SQLite, `make run`);
- `ProcrastinateQueue`: the job is put on PostgreSQL and a `python -m imagegen worker`
  process, on any machine, runs it. One queue per provider (`local`, `ideogram`,
  `replicate`), so workers can be pointed at the providers they may call.

Either way the job itself is the Generation (or BatchItem) row: the queue only says "run
this id"; everything a page shows is read from the database.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select, text
from sqlalchemy.engine import Engine, make_url

from imagegen.errors import ConfigError
from imagegen.records import Batch, BatchItem, BatchItemStatus, BatchStatus, CandidateStatus, Generation, GenerationStatus

if TYPE_CHECKING:
    import procrastinate

    from imagegen.settings import Settings
    from imagegen.workspace import Workspace

GENERATION_TASK = "imagegen.generation"
BATCH_ITEM_TASK = "imagegen.batch_item"
WAIT_POLL_SECONDS = 0.25
DEFER_CHUNK = 500  # batch agents put on the queue per statement


class JobQueue(Protocol):
    def submit(self, generation_id: int) -> object: ...
    def submit_batch(self, batch_id: int) -> object: ...
    def cancel(self, generation_id: int) -> bool: ...
    def wait(self, job_id: int, timeout: float, kind: str = "generation") -> None: ...
    def stop(self, timeout: float = 10.0) -> None: ...


def uses_workers(settings: "Settings") -> bool:
    """True when jobs go to Procrastinate workers: PostgreSQL unless IMAGEGEN_JOB_QUEUE says otherwise."""
    postgres = make_url(settings.resolved_database_url).get_backend_name() == "postgresql"
    if settings.job_queue == "procrastinate" and not postgres:
        raise ConfigError("Workers need PostgreSQL: set IMAGEGEN_DATABASE_URL=postgresql+psycopg://..., or IMAGEGEN_JOB_QUEUE=in-process.")
    return postgres if settings.job_queue == "auto" else settings.job_queue == "procrastinate"


def procrastinate_app(settings: "Settings", *, pool_size: int = 4) -> "procrastinate.App":
    """The Procrastinate app on our database (the same URL, in libpq's spelling)."""
    import procrastinate

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError("Workers need PostgreSQL: set IMAGEGEN_DATABASE_URL=postgresql+psycopg://...")
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connector = procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=pool_size)
    return procrastinate.App(connector=connector)


def ensure_queue_schema(engine: Engine) -> None:
    """Apply Procrastinate's own schema once, at startup, under the migration lock.

    Not an Alembic revision: Procrastinate versions its schema with its own SQL migrations,
    and its tables are not our models (our migration test compares the two)."""
    from procrastinate.schema import SchemaManager

    from imagegen.storage.db import MIGRATION_LOCK_KEY

    with engine.connect() as conn:
        if conn.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is not None:
            return
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        if conn.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is None:
            conn.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))  # no parameters: % is literal


def _generation_lock(generation_id: int) -> str:
    return f"generation-{generation_id}"


def _item_lock(item_id: int) -> str:
    return f"batch-item-{item_id}"


class ProcrastinateQueue:
    """Jobs on PostgreSQL for `python -m imagegen worker` processes. The app and the CLI only enqueue.

    Each job carries a lock naming its row, so one row never runs on two workers at once,
    and a second submit of a job still waiting is a no-op (queueing lock)."""

    def __init__(self, ws: "Workspace"):
        self._ws = ws
        self._app: procrastinate.App | None = None
        self._lock = threading.Lock()

    def _opened(self) -> "procrastinate.App":
        with self._lock:
            if self._app is None:  # lazily: a web server that only reads never opens a pool
                self._app = procrastinate_app(self._ws.settings).open()
            return self._app

    def _task(self, task: str, provider: str, lock: str):
        """`task` on `provider`'s queue, locked to one row: never two at once, never two waiting."""
        return self._opened().configure_task(task, queue=provider, lock=lock, queueing_lock=lock)

    def _defer(self, task: str, provider: str, lock: str, **kwargs) -> None:
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            self._task(task, provider, lock).defer(**kwargs)
        except AlreadyEnqueued:
            pass  # already waiting for a worker

    def submit(self, generation_id: int) -> None:
        provider = self._ws.get_generation(generation_id).recipe.provider
        self._defer(GENERATION_TASK, provider, _generation_lock(generation_id), generation_id=generation_id)

    def submit_batch(self, batch_id: int) -> None:
        """One job per pending agent: the batch spreads over every worker of its provider's queue."""
        with self._ws.session() as s:
            batch = s.get(Batch, batch_id)
            pending = list(s.scalars(select(BatchItem.id).where(BatchItem.batch_id == batch_id, BatchItem.status == BatchItemStatus.PENDING)
                                     .order_by(BatchItem.id)))
        provider = batch.choices.get("provider") or "local"
        from procrastinate.exceptions import AlreadyEnqueued

        for start in range(0, len(pending), DEFER_CHUNK):  # one round trip per chunk, not one per agent
            chunk = pending[start:start + DEFER_CHUNK]
            jobs = [self._task(BATCH_ITEM_TASK, provider, _item_lock(i)).make_new_job(batch_id=batch_id, item_id=i) for i in chunk]
            try:
                self._opened().job_manager.batch_defer_jobs(jobs)
            except AlreadyEnqueued:  # a resumed batch whose agents partly still wait for a worker
                for item_id in chunk:
                    self._defer(BATCH_ITEM_TASK, provider, _item_lock(item_id), batch_id=batch_id, item_id=item_id)

    def cancel(self, generation_id: int) -> bool:
        """Stop a job wherever it runs: a waiting one is withdrawn (and its board ends canceled),
        a running one is aborted on its worker, which keeps the candidates already landed."""
        from imagegen.generation import _end_job

        with self._ws.session() as s:
            item_id = s.scalar(select(BatchItem.id).where(BatchItem.generation_id == generation_id))
        lock = _item_lock(item_id) if item_id is not None else _generation_lock(generation_id)
        manager = self._opened().job_manager
        found = False
        for status in ("doing", "todo"):
            for job in manager.list_jobs(lock=lock, status=status):
                found = manager.cancel_job_by_id(job.id, abort=True) or found
                if status == "todo" and self._ws.get_generation(generation_id).status is GenerationStatus.QUEUED:
                    _end_job(self._ws, generation_id, CandidateStatus.CANCELED, "Canceled before it started.", GenerationStatus.CANCELED)
        return found

    def wait(self, job_id: int, timeout: float, kind: str = "generation") -> None:
        """Until the generation ends, or the batch stops running, or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._ws.session() as s:
                if kind == "generation":
                    if s.scalar(select(Generation.status).where(Generation.id == job_id)).finished:
                        return
                elif s.scalar(select(Batch.status).where(Batch.id == job_id)) is not BatchStatus.RUNNING:
                    return
            time.sleep(WAIT_POLL_SECONDS)

    def stop(self, timeout: float = 10.0) -> None:
        """Close the connection pool. Jobs are the workers': nothing here to cancel."""
        with self._lock:
            app, self._app = self._app, None
        if app is not None:
            app.close()
