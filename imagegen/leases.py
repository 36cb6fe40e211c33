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
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select, update

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
