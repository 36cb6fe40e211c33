"""The renderer's worker processes never outlive the process that started them."""

import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT

CHILD = """
import time
from imagegen.providers.local import render_pool
pool = render_pool()
list(pool.map(time.sleep, [0.2] * 8))  # the workers start
print(" ".join(str(p.pid) for p in pool._processes.values()), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"  # a zombie has exited, it only waits to be reaped
    except FileNotFoundError:
        return False


def test_render_workers_exit_when_their_process_is_killed(isolated):
    """kill -9 of the app or a worker process must not leave renderer processes behind, each
    holding Pillow and its memory, for ever."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert workers and all(_alive(p) for p in workers)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in workers if _alive(p)]
        assert not left, f"renderer processes {left} outlived their parent"
    finally:
        proc.kill()
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
