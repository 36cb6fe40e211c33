"""Pillow opens per rerun of History and Showcase at the issue's sizes (issue 14).

    .venv/bin/python bench/page_opens.py

In a data folder of its own: 1,000 approved agents, 999 of them approved by a local batch
(auto-approve), and the last with 1,000 candidates (250 local jobs of 4) and 3 approvals. Each page is opened
through AppTest as Streamlit runs it: the first view makes the thumbnails it shows, then 10
reruns count Pillow opens (target 0) and time themselves. Prints one line a page:

    History, 1,000 candidates: 0 opens in 10 reruns of 83 images shown, median 66 ms
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import PIL.Image  # noqa: E402

from bench.batch import run, workspace_with_agents  # noqa: E402
from imagegen.approval import approve_candidate  # noqa: E402
from imagegen.batch import create_batch, select_agents  # noqa: E402
from imagegen.generation import start_generation  # noqa: E402
from imagegen.providers.local import shutdown_render_pool  # noqa: E402
from imagegen.recipes import make_spec  # noqa: E402
from tests.fakes import run_together  # noqa: E402

APPROVED = 1000
JOBS = 250  # of 4 candidates: 1,000 for the History agent
RERUNS = 10


def seed(tmp: str) -> str:
    """The catalog; returns the History agent's slug."""
    ws = workspace_with_agents(tmp, APPROVED)
    agents = select_agents(ws)
    history_agent = agents[-1]  # approved below: the last of the APPROVED
    batch_id = create_batch(ws, agents[:-1], {"provider": "local", "count": 1}, auto_approve=True)
    run(ws, batch_id)
    ids = [start_generation(ws, history_agent.slug, make_spec(ws, history_agent, provider="local", count=4, seed=1 + 4 * i))
           for i in range(JOBS)]
    run_together(ws, ids)
    for gen_id in ids[-3:]:  # a trail of approvals on the page too
        approve_candidate(ws, ws.get_generation(gen_id).candidates[0].id)
    ws.close()
    shutdown_render_pool()
    return history_agent.slug


def shown(at) -> int:
    """Images on the page: `st.image` elements and the Showcase's tiles (data URLs in `st.html`)."""
    return len(at.get("image")) + sum(h.proto.body.count("data:image/jpeg") for h in at.get("html"))


def opens_per_rerun(page: str, **state) -> tuple[int, int, float]:
    """Images shown, Pillow opens in RERUNS reruns of `page` after its first view, and their median in ms."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(f"pages/{page}.py").run()  # the first view: makes the thumbnails it shows
    if at.exception:
        raise SystemExit(f"the {page} page failed: {at.exception[0].message}")
    opened, real_open = [], PIL.Image.open

    def counting_open(*args, **kwargs):
        opened.append(args[0] if args else kwargs)
        return real_open(*args, **kwargs)

    PIL.Image.open = counting_open
    try:
        times = []
        for _ in range(RERUNS):
            start = time.perf_counter()
            at.run()
            times.append((time.perf_counter() - start) * 1000)
    finally:
        PIL.Image.open = real_open
    if at.exception:
        raise SystemExit(f"the {page} page failed on a rerun: {at.exception[0].message}")
    return shown(at), len(opened), statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="page-opens-bench-") as tmp:
        start = time.perf_counter()
        slug = seed(tmp)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; catalog made in {time.perf_counter() - start:.0f} s")
        for label, page, state in ((f"History, {4 * JOBS:,} candidates", "history", {"history_agent": slug}),
                                   (f"Showcase, {APPROVED:,} approved", "showcase", {})):
            images, opens, median = opens_per_rerun(page, **state)
            print(f"{label}: {opens} opens in {RERUNS} reruns of {images} images shown, median {median:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
