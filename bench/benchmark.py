"""Issue 14's benchmark: a table of figure, target and verdict. Never fails because a machine is slow.

    make bench            # or: .venv/bin/python bench/benchmark.py [--big 2000] [--throughput-agents 40] [--skip-browser]

1. 8 candidates vs 1, per provider and model, against fakes taking 1 s a request
                                                     target: extra <= 0.25 s, or <= 1.25 x one call
2. candidate landed -> visible in the browser grid (Chromium, local renderer)  target: <= 300 ms
3. Pillow opens per rerun once thumbnails exist: studio (bench/studio_rerun.py), History with
   1,000 candidates and Showcase with 1,000 approved (bench/page_opens.py)  target: 0
4. local batch throughput vs the raw renderer on 2 threads (the issue's)  target: ratio >= 0.9
   (and, shown beside it, vs the raw renderer on the batch's own 2 renderer processes)
5. per-agent batch time (local), --big agents vs 100                     target: ratio <= 1.1
6. the renderer at 1280x720, draw + PNG (bench/renderer.py)              target: median <= 60 ms, p90 <= 2 x median
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import renderer as renderer_bench  # noqa: E402
from bench.batch import per_agent_ratio, run, workspace_with_agents  # noqa: E402
from imagegen.batch import create_batch, select_agents  # noqa: E402
from imagegen.generation import run_to_completion, start_generation  # noqa: E402
from imagegen.jobs import open_workspace  # noqa: E402
from imagegen.prompts import agent_text  # noqa: E402
from imagegen.providers.local import choose_subject, render_calls, render_pool, shutdown_render_pool  # noqa: E402
from imagegen.recipes import make_spec  # noqa: E402
from imagegen.records import Candidate  # noqa: E402
from imagegen.render import render_png  # noqa: E402
from imagegen.settings import Settings  # noqa: E402

CALL_SECONDS = 1.0
ROWS: list[tuple[str, str, str, bool | None]] = []  # measure, figure, target, met (None: shown, not judged)


def row(measure: str, figure: str, target: str, met: bool | None) -> None:
    ROWS.append((measure, figure, target, met))
    print(f"  {measure}: {figure}  ({verdict(met)})", flush=True)


def verdict(met: bool | None) -> str:
    return "-" if met is None else "OK" if met else "MISSED"


def fan_out() -> None:
    """Wall time of 8 candidates vs 1 through the real clients and the loopback fakes."""
    try:
        from tests.fake_ideogram import KEY, FakeIdeogram
        from tests.fake_replicate import TOKEN, FakeReplicate

        ideogram, replicate = FakeIdeogram(max_requests=400, lifetime=600).start(), FakeReplicate(max_requests=800, lifetime=600).start()
    except BaseException as exc:  # pytest's Skipped when ../shared is missing
        print(f"fan-out: skipped ({exc})")
        return
    replicate.delay = CALL_SECONDS
    cases = [("ideogram", "V_3", "16x9"), ("replicate", "black-forest-labs/flux-1.1-pro", "16x9"),
             ("replicate", "black-forest-labs/flux-schnell", "16x9"), ("replicate", "ideogram-ai/ideogram-v3-turbo", "16x9")]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(IMAGEGEN_DATA_DIR=tmp, IDEOGRAM_API_KEY=KEY, IDEOGRAM_BASE_URL=ideogram.base_url, REPLICATE_API_TOKEN=TOKEN,
                          REPLICATE_BASE_URL=replicate.base_url, IMAGEGEN_DOWNLOAD_HOSTS=f"{ideogram.base_url},{replicate.base_url}")
        ws = open_workspace(Settings())
        seeds = iter(range(1, 10_000, 10))

        def wall(provider: str, model: str, aspect: str, count: int) -> float:
            if provider == "ideogram":
                ideogram.faults.append({"delay": CALL_SECONDS})
            spec = make_spec(ws, ws.get_agent("trend-radar"), provider=provider, model=model, aspect_ratio=aspect, count=count, seed=next(seeds))
            gen_id = start_generation(ws, "trend-radar", spec)
            start = time.perf_counter()
            assert run_to_completion(ws, gen_id).value == "succeeded"
            return time.perf_counter() - start

        for provider, model, aspect in cases:
            one = statistics.median(wall(provider, model, aspect, 1) for _ in range(3))
            eight = statistics.median(wall(provider, model, aspect, 8) for _ in range(3))
            extra, ratio = eight - one, eight / one
            row(f"8 vs 1 candidates, {provider} {model.split('/')[-1]}", f"{one:.2f} s vs {eight:.2f} s: +{extra:.2f} s, {ratio:.2f} x",
                "extra <= 0.25 s or <= 1.25 x", extra <= 0.25 or ratio <= 1.25)
        ws.close()
    ideogram.stop()
    replicate.stop()


def cpu_seconds(pids) -> float:
    """User + system CPU seconds of these processes so far, from /proc (pool workers are not our children)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def batch_drawings(ws, agents, seed: int) -> list[tuple]:
    """The render_png calls a local batch of these agents makes (4 images each, 16x9, from `seed`):
    the same names, subjects, seeds, sizes and colours, so the raw renderer draws what the batch draws."""
    out = []
    for agent in agents:
        spec = make_spec(ws, agent, provider="local", count=4, seed=seed, aspect_ratio="16x9")
        text = agent_text(agent.name, agent.description, agent.sub_heading, agent.categories, agent.short_title)
        out += render_calls(text, choose_subject(text, spec.prompt).subject, spec.palette, spec.aspect_ratio, seed, 4)
    return out


def batch_throughput(agents: int, rounds: int = 5) -> None:
    """Images a second of a local batch (the CLI's default 4 per agent) vs render_png alone, drawing
    the same images: each round's seed changes which compositions are drawn, and they differ in
    cost by more than the batch's own overhead.

    Two baselines, the batch drawing on the app's renderer pool (2 processes on 2 cores):
    - the issue's: render_png on two threads of one process. Its ratio, 0.44, was the batch's
      22.7 images/s over the raw renderer's 52 on two threads; the target (>= 0.9) is that ratio.
    - a stricter one: render_png on the same 2 renderer processes the batch uses, so the ratio is
      the batch's own overhead alone (its database, files and event loop). Shown beside it.
      (With a pool of its own for the raw side, runs of the same code gave 0.88 to 0.97: each
      pool's workers keep their own speed for their life.)

    The three runs alternate, `rounds` times; each figure is the median round. Every round draws
    new images (a new seed): an image already stored would cost the batch no new file. For the
    stricter baseline, CPU seconds an image too, each side counting every process it uses: the
    batch's process and its render workers, the raw workers and this process, which sends them
    the calls and takes their images back (0.4 ms an image). On a shared machine the wall ratio
    flatters the batch, whose extra threads win a larger share of the cores; the CPU ratio says
    what it would be with both cores free."""
    images = 4 * agents
    seen: list[tuple[float, ...]] = []  # vs threads, vs processes (wall, CPU), images/s of the batch and of the threads
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as threads:
        ws = workspace_with_agents(tmp, agents)
        # One whole round first, not counted: it starts the renderer processes and warms every side alike.
        for r in range(-1, rounds):
            seed = 1 + 10 * (r + 1)
            drawings = batch_drawings(ws, select_agents(ws), seed)
            start = time.perf_counter()
            list(threads.map(render_png, *zip(*drawings)))
            threads_wall = time.perf_counter() - start
            pool = render_pool()  # min(4, cores) workers: 2 on a 2-core machine (a new pool if one died)
            raw_pids = list(pool._processes or ())
            cpu, start = cpu_seconds(raw_pids) + own_cpu(), time.perf_counter()
            list(pool.map(render_png, *zip(*drawings)))
            raw_wall, raw_cpu = time.perf_counter() - start, cpu_seconds(raw_pids) + own_cpu() - cpu
            batch_id = create_batch(ws, select_agents(ws), {"provider": "local", "count": 4, "seed": seed, "aspect_ratio": "16x9"})
            app_pids = list(pool._processes)  # the same processes, now started
            cpu, start = cpu_seconds(app_pids) + own_cpu(), time.perf_counter()
            run(ws, batch_id)
            batch_wall, batch_cpu = time.perf_counter() - start, cpu_seconds(app_pids) + own_cpu() - cpu
            if r >= 0:
                seen.append((threads_wall / batch_wall, raw_wall / batch_wall, raw_cpu / batch_cpu, images / batch_wall, images / threads_wall))
        ws.close()
    median = sorted(seen)[len(seen) // 2]  # the median round by the judged ratio: its own images/s
    vs_threads, rate, threads_rate = median[0], median[3], median[4]
    wall, cpu = (statistics.median(r[i] for r in seen) for i in (1, 2))
    row(f"local batch vs the raw renderer on 2 threads (the issue's ratio), {agents} agents x 4, the same images, median of {rounds} rounds",
        f"{vs_threads:.3f} ({rate:.1f} vs {threads_rate:.1f} images/s)", ">= 0.9", vs_threads >= 0.9)
    row("  the same batch vs the raw renderer on its own 2 renderer processes (stricter: the batch's overhead alone)",
        f"wall {wall:.3f}, CPU an image {cpu:.3f}", "none (shown)", None)


def per_agent(big: int) -> None:
    small, large, ratio = per_agent_ratio(big)
    row(f"per-agent batch time, {big} vs 100 agents", f"{large * 1000:.1f} vs {small * 1000:.1f} ms = {ratio:.2f}", "<= 1.1", ratio <= 1.1)


_SEEN_JS = """() => {
  // When each candidate's card is drawn with its image decoded: its Approve button is there
  // (shown only once the image landed) and the nearest enclosing block's image has loaded.
  // It looks when the page changes or an image loads, not on a timer: the watching itself
  // must not take the page's main thread from the app it measures.
  window.__seen = window.__seen || {};
  if (window.__watching) return;
  const look = () => {
    const now = Date.now();
    document.querySelectorAll('[class*="st-key-approve_"]').forEach(el => {
      const cls = [...el.classList].find(c => c.startsWith('st-key-approve_'));
      const cid = cls.slice('st-key-approve_'.length);
      if (window.__seen[cid]) return;
      let card = el.parentElement;
      while (card && !card.querySelector('img')) card = card.parentElement;
      const img = card && card.querySelector('img');
      if (img && img.complete && img.naturalWidth > 0) window.__seen[cid] = now;
    });
  };
  window.__watching = new MutationObserver(look);
  window.__watching.observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ['src', 'class']});
  document.addEventListener('load', look, true);  // an image that finishes decoding after its card is drawn
}"""


def browser_landing(rounds: int = 4) -> None:
    """Candidate landed (its row says succeeded) -> its card drawn in Chromium, local renderer.

    Both clocks are this machine's: the landing time is the candidate's finished_at in the
    database, the drawing time Date.now() in the page, sampled every 5 ms."""
    try:
        from playwright.sync_api import expect, sync_playwright

        from tests.test_browser import CHROMIUM, _free_port, _launch, streamlit_server
    except BaseException as exc:
        print(f"browser: skipped ({exc})")
        return
    if not os.path.exists(CHROMIUM):
        print(f"browser: skipped ({CHROMIUM} is missing)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**app_env(), "IMAGEGEN_DATA_DIR": tmp}
        with streamlit_server(_free_port(), env, ROOT) as url, sync_playwright() as pw:
            browser = _launch(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{url}/?agent=sql-sherpa")
            expect(page.get_by_role("heading", name="SQL Sherpa")).to_be_visible()
            page.evaluate(_SEEN_JS)
            generate = page.get_by_role("button", name="Generate")
            for n in range(1, rounds + 1):
                expect(generate).to_be_enabled()
                generate.click()
                page.wait_for_function(f"Object.keys(window.__seen).length >= {4 * n}", polling=100)
            seen = {int(cid): ms / 1000 for cid, ms in page.evaluate("window.__seen").items()}
            browser.close()
        os.environ["IMAGEGEN_DATA_DIR"] = tmp
        ws = open_workspace(Settings(), load_samples=False)
        with ws.session() as s:
            landed = dict(s.execute(select(Candidate.id, Candidate.finished_at).where(Candidate.id.in_(list(seen)))).all())
        ws.close()
    delays = sorted((seen[cid] - aware(at).timestamp()) * 1000 for cid, at in landed.items())
    worst, med, p90 = delays[-1], statistics.median(delays), delays[int(0.9 * (len(delays) - 1))]
    row(f"candidate landed -> visible in Chromium (local, {len(delays)} candidates)", f"median {med:.0f} ms, p90 {p90:.0f} ms, worst {worst:.0f} ms",
        "<= 300 ms", worst <= 300)


def app_env() -> dict:
    """The environment for the app in its own process: none of the fakes' keys or addresses set above."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDEOGRAM_", "REPLICATE_", "IMAGEGEN_"))}
    return {**env, "PYTHONPATH": str(ROOT)}


def aware(at):
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC


def pillow_opens() -> None:
    """Pillow opens per rerun once the thumbnails exist, each script in its own process (each
    owns its data folder): the studio with 8 candidates (bench/studio_rerun.py), History for an
    agent with 1,000 candidates and Showcase with 1,000 approved (bench/page_opens.py)."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "studio_rerun.py")], capture_output=True, text=True, timeout=900, env=app_env())
    found = re.search(r"full-size images opened in reruns\s+(\d+).*\((\d+) thumbnail headers", done.stdout)
    if found:
        opens = sum(map(int, found.groups()))
        row("Pillow opens in 130 studio reruns, 8 candidates", f"{opens} opens", "0 after first view", opens == 0)
    else:
        row("Pillow opens in studio reruns", f"no figure: {(done.stdout + done.stderr).strip()[-300:]}", "0 after first view", False)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "page_opens.py")], capture_output=True, text=True, timeout=900, env=app_env())
    pages = re.findall(r"^(History, .*|Showcase, .*): (\d+) opens in (\d+) reruns of (\d+) images shown, median (\d+) ms$", done.stdout, re.M)
    if len(pages) != 2:
        row("Pillow opens in History and Showcase reruns", f"no figure: {(done.stdout + done.stderr).strip()[-300:]}", "0 after first view", False)
    for label, opens, reruns, images, median in pages:
        row(f"Pillow opens in {reruns} reruns, {label}", f"{opens} opens ({images} images shown, rerun median {median} ms)",
            "0 after first view", int(opens) == 0)


def renderer() -> None:
    med, p90 = renderer_bench.speed(encode_levels=False)
    row("renderer 1280x720, draw + PNG", f"median {med:.1f} ms, p90 {p90:.1f} ms ({p90 / med:.2f} x)", "median <= 60 ms, p90 <= 2 x", med <= 60 and p90 <= 2 * med)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=2000, help="agents in the large per-agent batch")
    parser.add_argument("--throughput-agents", type=int, default=40)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores (figures from a shared machine are noisy)")
    fan_out()
    if not args.skip_browser:
        browser_landing()
    pillow_opens()
    batch_throughput(args.throughput_agents)
    per_agent(args.big)
    shutdown_render_pool()
    renderer()
    width = max(len(r[0]) for r in ROWS)
    fig = max(len(r[1]) for r in ROWS)
    print(f"\n| {'measure':<{width}} | {'figure':<{fig}} | target | verdict |\n|{'-' * (width + 2)}|{'-' * (fig + 2)}|---|---|")
    for measure, figure, target, met in ROWS:
        print(f"| {measure:<{width}} | {figure:<{fig}} | {target} | {verdict(met)} |")
