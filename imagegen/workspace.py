"""The shared resources of one runner: settings, database, media store, providers, limiters.

A Workspace only holds resources. `imagegen.jobs.open_workspace()` opens one, runs recovery
and attaches the job runner; the app caches that as a resource, the CLI and tests open their own.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import uuid
import weakref
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload

from imagegen.errors import NotFound, StorageError, redact
from imagegen.images import THUMBNAIL_SIDE, cached_thumbnail, make_thumbnail
from imagegen.leases import SharedImageLimiter, in_flight_engine
from imagegen.providers import Provider, build_provider, provider_class
from imagegen.records import Agent, Candidate, Generation
from imagegen.settings import Settings
from imagegen.storage.db import create_db_engine, migrate, session_factory
from imagegen.storage.media import open_media_store

_ENGINE_LOCK = threading.Lock()


class Workspace:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.owner = uuid.uuid4().hex  # this runner's id: the owner of its leases and temporary files
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Could not create the data folder {settings.data_dir}: {exc.strerror}. "
                               "Set IMAGEGEN_DATA_DIR to a folder this user can write.") from None
        self.engine = create_db_engine(settings.resolved_database_url)
        try:
            migrate(self.engine)
        except OperationalError as exc:  # the first connection: a server down, a wrong password, an unwritable file
            url = self.engine.url
            said = redact(str(exc.orig).strip().splitlines()[0] if exc.orig else "no connection", url.password)
            raise StorageError(f"Could not open the database at {url.render_as_string(hide_password=True)}: {said}. "
                               "Check IMAGEGEN_DATABASE_URL and that its server is running.") from None
        self._sessions = session_factory(self.engine)
        self.media = open_media_store(settings.resolved_media_url, self.owner)
        self.jobs = None  # a JobRunner, attached by imagegen.jobs.open_workspace
        # Providers hold async clients and semaphores, which belong to one event loop each.
        self._per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._slots_engine = None  # PostgreSQL only: the connections holding in-flight slots
        self.calling_jobs = 0  # a worker's cap on its jobs calling providers at once (0: none, the limits alone)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            yield s

    def _loop_state(self) -> dict:
        return self._per_loop.setdefault(asyncio.get_running_loop(), {"providers": {}, "limits": {}, "turns": None})

    def provider(self, name: str) -> Provider:
        providers = self._loop_state()["providers"]
        if name not in providers:
            providers[name] = build_provider(name, self.settings)
        return providers[name]

    def limiter(self, name: str) -> ImageLimiter:
        """One limiter per provider and loop, shared by every job on that loop."""
        limits = self._loop_state()["limits"]
        if name not in limits:
            capacity = self.provider(name).max_in_flight()
            if self.engine.dialect.name == "postgresql" and provider_class(name).needs_key:
                # A vendor's limit is per account, not per process: count it across every worker.
                limits[name] = SharedImageLimiter(self._in_flight_engine(), name, capacity)
            else:
                limits[name] = ImageLimiter(capacity)
        return limits[name]

    def turn(self, calls: int) -> contextlib.AbstractAsyncContextManager["Turn"]:
        """A job's turn to call its provider, in this process's order: see `CallTurns`."""
        state = self._loop_state()
        if state["turns"] is None:
            state["turns"] = CallTurns(self.calling_jobs)
        return state["turns"].turn(calls)

    def _in_flight_engine(self):
        with _ENGINE_LOCK:
            if self._slots_engine is None:
                self._slots_engine = in_flight_engine(self.settings.resolved_database_url, pool_size=16)
            return self._slots_engine

    async def aclose_providers(self) -> None:
        for provider in self._loop_state()["providers"].values():
            await provider.aclose()

    def get_agent(self, slug: str, *, session: Session | None = None) -> Agent:
        def find(s: Session) -> Agent:
            agent = s.scalar(select(Agent).where(Agent.slug == slug))
            if agent is None:
                raise NotFound(f"No agent with slug {slug!r}: list them with `python -m imagegen agents`.")
            return agent

        if session is not None:
            return find(session)
        with self.session() as s:
            return find(s)

    def fetch(self, model: type, row_id: int):
        """One row by id, or NotFound naming what is missing (what pages use instead of a session)."""
        with self.session() as s:
            row = s.get(model, row_id)
        if row is None:
            raise NotFound(f"No {model.__tablename__.removesuffix('s').replace('_', ' ')} {row_id}.")
        return row

    def get_generation(self, generation_id: int) -> Generation:
        return self.fetch(Generation, generation_id)

    def get_candidate(self, candidate_id: int) -> Candidate:
        return self.fetch(Candidate, candidate_id)

    def candidates(self, ids: list[int]) -> list[Candidate]:
        """Candidates in the order of `ids` (missing ids are skipped), in one query."""
        with self.session() as s:
            query = select(Candidate).where(Candidate.id.in_(ids)).options(selectinload(Candidate.generation))
            found = {c.id: c for c in s.scalars(query)}
        return [found[i] for i in ids if i in found]

    def thumbnail(self, key: str, max_side: int = THUMBNAIL_SIDE, *, make=None) -> bytes:
        """The cached thumbnail of a stored image; `make()` (a job that has the image at hand)
        gives it when none is cached, instead of reading the image back and shrinking it."""
        return cached_thumbnail(self.settings.thumbnail_dir, key, make or (lambda: make_thumbnail(self.media.get(key), max_side)), max_side)

    def close(self) -> None:
        """Stop the runner (its jobs end canceled, their leases released), then the database."""
        if self.jobs is not None:
            self.jobs.stop()
        if self._slots_engine is not None:
            self._slots_engine.dispose()
        self.engine.dispose()


class CallTurns:
    """At most `jobs` jobs of this process call providers at once (0: no cap, only the limits).

    A worker runs twice as many jobs as it lets call: while its calls are out, the next jobs
    claim their rows and the finished ones save and record theirs, so a call that ends is
    followed at once by one that is ready, not by a job that still has its bookkeeping to do.
    A job's turn starts before its first call and ends when its last call is answered (its
    downloads and saves run after), however many calls it makes: Flux 1.1 Pro's eight
    one-image predictions are one turn."""

    def __init__(self, jobs: int):
        self._slots = asyncio.Semaphore(jobs) if jobs > 0 else None

    @contextlib.asynccontextmanager
    async def turn(self, calls: int):
        if self._slots is None or calls == 0:
            yield Turn(None, calls)
            return
        await self._slots.acquire()
        turn = Turn(self._slots, calls)
        try:
            yield turn
        finally:
            turn.end()


class Turn:
    def __init__(self, slots: asyncio.Semaphore | None, calls: int):
        self._slots, self._calls = slots, calls

    def call_answered(self) -> None:
        """One call is over (answered or failed); the last one ends the turn."""
        self._calls -= 1
        if self._calls <= 0:
            self.end()

    def end(self) -> None:
        if self._slots is not None:
            self._slots, slots = None, self._slots
            slots.release()


class ImageLimiter:
    """A weighted semaphore: at most `capacity` images in flight; a call holds as many as it asks for.

    Ideogram counts its in-flight limit in images, not requests, so one 8-image request and
    two single-image ones must share the same budget. Calls go in the order they asked: a
    release hands its images to the waiters at the front that fit, and wakes only them (a
    batch keeps a dozen calls waiting; waking them all at every release cost each image a
    dozen wake-ups), and a newcomer never passes a waiting call, so an 8-image call is not
    starved by single ones."""

    def __init__(self, capacity: int):
        self.capacity = max(1, capacity)
        self._used = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future]] = collections.deque()

    @contextlib.asynccontextmanager
    async def hold(self, images: int):
        images = min(images, self.capacity)
        if self._waiters or self._used + images > self.capacity:
            entry = (images, asyncio.get_running_loop().create_future())
            self._waiters.append(entry)
            try:
                await entry[1]  # the release that wakes it has counted its images in already
            except BaseException:
                if entry[1].done() and not entry[1].cancelled():  # handed its images, then canceled: they go on
                    self._release(images)
                elif entry in self._waiters:
                    self._waiters.remove(entry)
                    self._release(0)  # it may have been the front call that held the others back
                raise
        else:
            self._used += images
        try:
            yield
        finally:
            self._release(images)  # synchronous: a cancellation here cannot leak capacity

    def _release(self, images: int) -> None:
        self._used -= images
        while self._waiters:
            wanted, waiter = self._waiters[0]
            if waiter.cancelled():  # its task was canceled while it waited: skipped (its own cleanup finds it gone)
                self._waiters.popleft()
                continue
            if self._used + wanted > self.capacity:
                return
            self._waiters.popleft()
            self._used += wanted
            waiter.set_result(None)
