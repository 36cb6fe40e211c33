"""Benchmark for a real catalog (issue 13): the library reads the pages make, at scale.

    .venv/bin/python bench/scale.py                 # SQLite in a temporary folder
    IMAGEGEN_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/scale.py   # an EMPTY database

Prints a table of figure, target and verdict. Pages are rerun through AppTest, as Streamlit
runs them (widgets included), in this process:
- the studio page rerun at 100, 10,000 and 100,000 agents: median at 100,000 <= 300 ms, and the
  ratio 100,000 / 100 <= 2; with the SQL statements of the studio's reads at each size;
- this (web) process's memory growth over 100 studio reruns at 100,000 agents: < 20 MB;
- a typed agent search at 100,000 agents (selective, broad, no match): through the search index;
- the History page for an agent with 500 generations, the Showcase page with 5,000 approved:
  median <= 500 ms;
- importing a 100,000-row store export in a fresh process: peak memory (RSS) < 150 MB.
"""

from __future__ import annotations

import csv
import gc
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IMAGEGEN_DATA_DIR", tempfile.mkdtemp(prefix="scale-bench-"))

from sqlalchemy import func, insert, select, update  # noqa: E402

from imagegen.catalog import refresh_categories  # noqa: E402
from imagegen.generation import latest_generation  # noqa: E402
from imagegen.listings import category_names, search_agents  # noqa: E402
from imagegen.records import Agent, Approval, Candidate, CandidateStatus, Generation, GenerationStatus  # noqa: E402
from imagegen.settings import Settings  # noqa: E402
from imagegen.storage.querycount import count_statements  # noqa: E402
from imagegen.workspace import Workspace  # noqa: E402

KEY = "ab/" + "a" * 64 + ".png"
CATEGORIES = ["productivity", "writing", "research", "marketing", "developer tools", "data", "design", "sales"]
DESCRIPTION = "Turns long meetings into short notes, with owners and dates, and follows up by email. " * 4


def agent_row(i: int) -> dict:
    return {"slug": f"agent-{i:06d}", "name": f"Agent {i:06d} {CATEGORIES[i % 8].title()} Helper",
            "sub_heading": "Does one thing well", "description": DESCRIPTION,
            "categories": [CATEGORIES[i % 8], CATEGORIES[(i * 3) % 8]]}


def grow(ws: Workspace, until: int) -> None:
    with ws.session() as s, s.begin():
        have = s.scalar(select(func.count()).where(Agent.slug.like("agent-%")))
        for start in range(have + 1, until + 1, 5000):
            s.execute(insert(Agent), [agent_row(i) for i in range(start, min(start + 5000, until + 1))])
        refresh_categories(s)  # as the catalog's import does
    if ws.engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load in production: statistics and the visibility map.
        with ws.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE agents")


def median_ms(fn, runs: int = 15) -> float:
    fn()  # warm the caches, as a rerun would find them
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def studio_reads(ws: Workspace) -> None:
    with ws.session() as s:
        page = search_agents(s, "", limit=50)
        category_names(s)
        agent = ws.get_agent(page.items[0].slug, session=s)
    latest_generation(ws, agent.slug)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def app_on(page: str | None = None, **state):
    """The app through AppTest on `page` (None: the studio), after a first run that warms the
    caches, as a curator's rerun finds them."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    at.run()
    if at.exception:
        raise SystemExit(f"the {page or 'studio'} page failed: {at.exception[0].message}")
    return at


def rerun_ms(at, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def sample_image() -> bytes:
    """A real 16:9 PNG, so pages make and show their thumbnails as they do for a candidate."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1280, 720), "#1C0C47")
    ImageDraw.Draw(image).ellipse((440, 160, 840, 560), fill="#9900FF")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def import_peak_mb(rows: int) -> tuple[float, float]:
    """Peak RSS and seconds of `python -m imagegen import` of a `rows`-row CSV, in a fresh process."""
    folder = Path(tempfile.mkdtemp(prefix="scale-import-"))
    export = folder / "export.csv"
    with export.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["slug", "agent_name", "sub_heading", "description", "categories"])
        writer.writeheader()
        for i in range(rows):
            row = agent_row(500_000 + i)
            writer.writerow({"slug": row["slug"], "agent_name": row["name"], "sub_heading": row["sub_heading"],
                             "description": row["description"], "categories": ", ".join(row["categories"])})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IMAGEGEN_DATA_DIR": str(folder / "data")}
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (big) parent through fork and exec.
    code = ("import re, sys, time; from imagegen.cli import main; t0 = time.perf_counter(); "
            "code = main(['import', sys.argv[1]]); "
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
            "print(time.perf_counter() - t0, hwm, file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, str(export)], env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"the import failed: {done.stderr.strip()[-500:]}")
    seconds, peak_kb = done.stderr.strip().splitlines()[-1].split()
    return float(peak_kb) / 1024, float(seconds)


def main() -> None:
    ws = Workspace(Settings())
    key = ws.media.put(sample_image(), "PNG")
    figures: list[tuple[str, str, str, bool | None]] = []
    studio = {}
    for n in (100, 10_000, 100_000):
        grow(ws, n)
        with count_statements(ws.engine) as statements:
            studio_reads(ws)
        reads = median_ms(lambda: studio_reads(ws), runs=31)
        figures.append((f"studio reads at {n:,} agents, median", f"{reads:.1f} ms ({len(statements)} statements)", "", None))
        at = app_on()
        studio[n] = rerun_ms(at)
        figures.append((f"studio page rerun at {n:,} agents, median", f"{studio[n]:.0f} ms",
                        "<= 300 ms at 100,000" if n == 100_000 else "", studio[n] <= 300 if n == 100_000 else None))
    ratio = studio[100_000] / studio[100]
    figures.append(("studio rerun ratio 100,000 / 100", f"{ratio:.2f}", "<= 2", ratio <= 2))

    for _ in range(10):  # the caches settle first; growth after that is what a long session pays
        at.run()
    gc.collect()
    before = rss_mb()
    for _ in range(100):
        at.run()
    gc.collect()
    growth = rss_mb() - before
    figures.append(("memory growth over 100 studio reruns at 100,000", f"{growth:+.1f} MB", "< 20 MB", growth < 20))
    del at

    for label, needle in (("selective", "agent 09999"), ("broad", "helper"), ("no match", "helper 0999")):
        def typed_search() -> None:
            with ws.session() as s:
                search_agents(s, needle, limit=50)

        figures.append((f"agent search typed at 100,000 agents, {label} ({needle!r}), median", f"{median_ms(typed_search):.1f} ms",
                        "(index lookup)", None))

    # History: one agent with 500 generations of 4 candidates, one approval in 10.
    with ws.session() as s, s.begin():
        agent = s.scalar(select(Agent).where(Agent.slug == "agent-000042"))
        for i in range(500):
            gen = Generation(agent_id=agent.id, spec={"provider": "local", "prompt": "p"}, status=GenerationStatus.SUCCEEDED)
            gen.candidates = [Candidate(position=p, status=CandidateStatus.SUCCEEDED, image_key=key) for p in range(4)]
            s.add(gen)
            if i % 10 == 0:
                s.flush()
                s.add(Approval(agent_id=agent.id, candidate_id=gen.candidates[0].id, approved_by="bench", upload_key=key, spec={}))
        agent.current_thumbnail = key

    ms = rerun_ms(app_on("history", history_agent="agent-000042"))
    figures.append(("History page, agent with 500 generations, median", f"{ms:.0f} ms", "<= 500 ms", ms <= 500))

    with ws.session() as s, s.begin():
        ids = list(s.scalars(select(Agent.id).where(Agent.slug.like("agent-%")).order_by(Agent.id).limit(5000)))
        s.execute(update(Agent).where(Agent.id.in_(ids)).values(current_thumbnail=key))
    ms = rerun_ms(app_on("showcase"))
    figures.append(("Showcase page with 5,000 approved, median", f"{ms:.0f} ms", "<= 500 ms", ms <= 500))
    ws.close()

    peak, seconds = import_peak_mb(100_000)
    figures.append(("import of 100,000 rows, peak memory (RSS)", f"{peak:.0f} MB in {seconds:.1f} s", "< 150 MB", peak < 150))

    print(f"backend: {ws.engine.dialect.name}; python {sys.version.split()[0]}; shared 2-core machine, figures are noisy")
    width = max(len(f[0]) for f in figures)
    print(f"{'figure':<{width}}  {'measured':<28}  {'target':<22}  verdict")
    for name, value, target, ok in figures:
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"{name:<{width}}  {value:<28}  {target:<22}  {verdict}")



# --- Batch throughput on Procrastinate workers (the "workers" part of issue 13) -------------
#     .venv/bin/python bench/scale.py batch     # starts a throwaway PostgreSQL server of its own
# A fake Ideogram answers every call in 300 ms; the global in-flight limit is 10 images.
# `--concurrency 5` lets a worker make 5 calls at once (it runs 10 jobs, so the next five are
# ready when calls end): one worker fills half the limit, and a second should double the rate.
# One worker at `--concurrency 10` shows a single worker filling the whole limit alone.
# targets: two workers at least 1.8x one worker's images/s; achieved in-flight at least 0.9 x 10.

def batch_throughput_run(cluster, template: str, workers: int, agents: int, concurrency: int = 5) -> tuple[float, float]:
    """(images per second, average images in flight) for one batch of `agents` x 1 image."""
    import threading

    from imagegen.batch import create_batch, follow_batch, select_agents
    from imagegen.jobs import open_workspace
    from tests.fake_ideogram import KEY, FakeIdeogram

    fake = FakeIdeogram(max_requests=4 * agents, lifetime=600).start()
    fake.faults.extend([{"delay": 0.3}] * (2 * agents))
    url = cluster.fresh_database(template)
    env = {"IMAGEGEN_DATABASE_URL": url, "IMAGEGEN_DATA_DIR": tempfile.mkdtemp(prefix="scale-workers-"),
           "IMAGEGEN_JOB_QUEUE": "procrastinate", "IDEOGRAM_API_KEY": KEY, "IDEOGRAM_BASE_URL": fake.base_url,
           "IMAGEGEN_DOWNLOAD_HOSTS": fake.base_url, "IDEOGRAM_MAX_IN_FLIGHT": "10"}
    os.environ.update(env)
    ws = open_workspace(Settings(), load_samples=False)
    procs = []
    try:
        with ws.session() as s, s.begin():
            s.execute(insert(Agent), [{"slug": f"w-{i:05d}", "name": f"Agent {i}", "categories": ["bench"]} for i in range(agents)])
        procs = [subprocess.Popen([sys.executable, "-m", "imagegen", "worker", "--concurrency", str(concurrency)], cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.DEVNULL) for _ in range(workers)]
        time.sleep(4)  # let the workers start (imports, pools) so their start-up is not timed
        batch_id = create_batch(ws, select_agents(ws), {"provider": "ideogram", "count": 1})
        samples: list[int] = []
        done = threading.Event()

        def sample() -> None:  # what the provider sees in flight, every 5 ms once the first call arrived
            while not done.wait(0.005):
                if fake.requests:
                    samples.append(fake.in_flight_images)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        ws.jobs.submit_batch(batch_id)
        started = time.monotonic()
        follow_batch(ws, batch_id, poll=0.05)
        seconds = time.monotonic() - started
        done.set()
        sampler.join()
        return agents / seconds, statistics.mean(samples) if samples else 0.0
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=30)
        ws.close()
        fake.stop()
        cluster.drop(url)


def batch_throughput_main(agents: int = 400) -> None:
    from imagegen.storage.db import migrate
    from tests import pg

    try:
        import tests.fake_ideogram as fake_ideogram
        fake_ideogram.require(fake_ideogram.SPEC)
    except BaseException as exc:  # pytest's Skipped when ../shared is missing
        print(f"batch throughput: skipped ({exc})")
        return
    cluster = pg.PgCluster().start()
    try:
        template = cluster.create_template(migrate)
        (one, one_in_flight), (two, two_in_flight), (alone, alone_in_flight) = (
            batch_throughput_run(cluster, template, workers, agents, calls) for workers, calls in ((1, 5), (2, 5), (1, 10)))
    finally:
        cluster.stop()
    print(f"batch throughput on PostgreSQL workers: {agents} agents x 1 image, fake Ideogram 300 ms, limit 10 in flight; "
          f"shared 2-core machine, figures are noisy")
    rows = [
        ("1 worker, 5 calls at once: images/s", f"{one:.1f} (in flight {one_in_flight:.1f})", "", None),
        ("2 workers, 5 calls at once each: images/s", f"{two:.1f} (in flight {two_in_flight:.1f})", "", None),
        ("2 workers / 1 worker", f"{two / one:.2f}x", ">= 1.8x", two / one >= 1.8),
        ("2 workers' in flight / limit", f"{two_in_flight / 10:.2f}", ">= 0.9", two_in_flight / 10 >= 0.9),
        ("1 worker, 10 calls at once: images/s", f"{alone:.1f} (in flight {alone_in_flight:.1f})", "", None),
    ]
    for name, value, target, ok in rows:
        print(f"{name:<42}  {value:<28}  {target:<10}  {'' if ok is None else 'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    batch_throughput_main() if sys.argv[1:] == ["batch"] else main()
