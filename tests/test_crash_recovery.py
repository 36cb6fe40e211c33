"""Kill -9 in the middle of a generation: no partial file, finished candidates kept, the rest interrupted."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from imagegen.records import CandidateStatus, GenerationStatus
from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from tests.conftest import ROOT

WORKER = textwrap.dedent(
    """
    import asyncio
    from imagegen import providers
    from imagegen.generation import run_generation, start_generation
    from imagegen.recipes import make_spec
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace
    from tests.fakes import scripted

    providers.PROVIDERS += (scripted(["ok", "slow"]),)
    ws = open_workspace(Settings())
    spec = make_spec(ws, ws.get_agent("trend-radar"), provider="scripted", count=4, seed=0)
    asyncio.run(run_generation(ws, start_generation(ws, "trend-radar", spec)))
    """
)


def test_killed_worker_leaves_finished_candidates_and_no_partial_files(isolated, database_url, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_LEASE_SECONDS", "1")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env)
    try:
        ws = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if database_url or (isolated / "data" / "imagegen.db").exists():  # a PostgreSQL one is there from the start
                ws = ws or open_workspace(Settings(), load_samples=False)
                with ws.session() as s:
                    from sqlalchemy import func, select

                    from imagegen.records import Candidate

                    done = s.scalar(select(func.count()).where(Candidate.status == CandidateStatus.SUCCEEDED))
                if done == 2:
                    break
        else:
            raise AssertionError("the worker never saved its first candidates")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

    time.sleep(1.5)  # only an expired lease is recovered
    restarted = open_workspace(Settings())
    gen = restarted.get_generation(1)
    assert gen.status is GenerationStatus.INTERRUPTED
    assert [c.status.value for c in gen.candidates] == ["succeeded", "interrupted", "succeeded", "interrupted"]
    assert all(restarted.media.exists(c.image_key) for c in gen.candidates if c.image_key)
    media = isolated / "data" / "media"
    assert not [p for p in media.rglob("*") if p.name.startswith(".tmp-")]
