"""Ownership of jobs by lease, never by process id.

Every Workspace has a runner id (a uuid). Claiming a job writes `lease_owner` and
`lease_until`; while the job runs, its runner renews the lease every third of
`IMAGEGEN_LEASE_SECONDS`. A second process, a second container on the same volume, or a
second Workspace in the same process (Streamlit's "Clear cache") sees a live lease and
leaves the job alone. Only a job whose lease has expired is recovered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import zlib
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, event, select, text, update

from imagegen.records import Batch, BatchStatus, Generation, GenerationStatus, utcnow

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

log = logging.getLogger(__name__)
LEASED = (Generation, Batch)


def lease_until(ws: "Workspace") -> datetime:
    return utcnow() + timedelta(seconds=ws.settings.lease_seconds)


def expired(until: datetime | None, now: datetime) -> bool:
    if until is None:
        return True
    return (until if until.tzinfo else until.replace(tzinfo=timezone.utc)) < now


def renew(ws: "Workspace", model: type, row_id: int) -> bool:
    """Extend our lease on one row; False if it is no longer ours (recovered by someone else)."""
    with ws.session() as s, s.begin():
        result = s.execute(
            update(model).where(model.id == row_id, model.lease_owner == ws.owner).values(lease_until=lease_until(ws))
        )
        return result.rowcount == 1


@contextlib.asynccontextmanager
async def held(ws: "Workspace", model: type, row_id: int):
    """Renew the lease on a timer, off the event loop, for as long as the block runs."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(ws.settings.lease_seconds / 3)
            try:
                if not await asyncio.to_thread(renew, ws, model, row_id):
                    log.warning("lost the lease on %s %s", model.__tablename__, row_id)
                    return
            except Exception:  # a locked database now is retried at the next tick
                log.exception("could not renew the lease on %s %s", model.__tablename__, row_id)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()


def live_owners(ws: "Workspace") -> set[str]:
    """Runner ids holding at least one live lease, ours included."""
    now = utcnow()
    owners = {ws.owner}
    with ws.session() as s:
        for model, active in ((Generation, (GenerationStatus.QUEUED, GenerationStatus.RUNNING)), (Batch, (BatchStatus.RUNNING,))):
            rows = s.execute(select(model.lease_owner, model.lease_until).where(model.status.in_(active), model.lease_owner.is_not(None)))
            owners |= {owner for owner, until in rows if not expired(until, now)}
    return owners


_TAKE_SLOTS = text("SELECT slot FROM generate_series(0, :capacity - 1) AS slot WHERE pg_try_advisory_lock(:key, slot) LIMIT :images")


class SharedImageLimiter:
    """A provider's in-flight images counted across every process on one PostgreSQL database.

    The budget is `capacity` advisory-lock slots; a call holds one slot per image it asks for,
    each on a connection it keeps until the provider answers. Session advisory locks go with
    their connection, so a killed worker's slots are free the moment its connections drop:
    nothing to expire, nothing to recover. One acquirer per process polls at a time (in order),
    so a process's waiting jobs cost one query loop, not one each. Slots freed by another process
    are seen at the next poll; slots this process frees wake its waiting acquirer at once."""

    POLL_SECONDS = 0.01

    def __init__(self, engine, provider: str, capacity: int):
        self.capacity = max(1, capacity)
        self._engine = engine
        self._key = zlib.crc32(f"imagegen-in-flight:{provider}".encode()) & 0x7FFFFFFF  # one int4 lock space per provider
        self._turn = asyncio.Lock()
        self._freed = asyncio.Event()  # set when this process gives slots back

    def _try_take(self, images: int):
        """A connection holding `images` slots, or None (nothing held) if that many are not free."""
        conn = self._engine.connect()
        try:
            # One round trip: the scan stops at the LIMIT, so at most `images` free slots are taken.
            taken = conn.execute(_TAKE_SLOTS, {"key": self._key, "capacity": self.capacity, "images": images}).all()
            if len(taken) == images:
                return conn
            conn.close()  # the pool's reset unlocks what was taken
            return None
        except BaseException:
            conn.close()
            raise

    @contextlib.asynccontextmanager
    async def hold(self, images: int):
        images = min(images, self.capacity)
        async with self._turn:
            while True:
                self._freed.clear()  # before trying: a release during the attempt wakes the wait below
                # Shielded: a cancel while the thread runs must still hand its connection back.
                attempt = asyncio.ensure_future(asyncio.to_thread(self._try_take, images))
                try:
                    conn = await asyncio.shield(attempt)
                except asyncio.CancelledError:
                    attempt.add_done_callback(lambda t: t.result() and t.result().close())
                    raise
                if conn is not None:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._freed.wait(), self.POLL_SECONDS * (1 + random.random()))
        try:
            yield
        finally:
            try:
                await asyncio.shield(asyncio.to_thread(conn.close))
            finally:
                self._freed.set()  # even when this task is canceled while its slots go back


def in_flight_engine(url: str, pool_size: int):
    """The engine SharedImageLimiter holds its slots on: autocommit (no transaction stays open
    while a call is in flight), and every connection that goes back to the pool unlocks its slots."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)

    @event.listens_for(engine, "reset")
    def _unlock(dbapi_connection, _record, _state) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock_all()")

    return engine
