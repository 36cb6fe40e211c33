"""Benchmarks for the spine (issue 2). Prints figures; never fails because a machine is slow.

    make bench            # or: .venv/bin/python bench/benchmark.py

1. the local renderer at 1280x720, PNG encoded       target: median <= 60 ms, p90 <= 2x median
2. a thumbnail of a 1024x768 JPEG                    target: median <= 8 ms
3. 8 candidates through a fake provider (300 ms)     target: wall <= 1.25 x one call
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imagegen import providers  # noqa: E402
from imagegen.generation import run_generation, start_generation  # noqa: E402
from imagegen.images import make_thumbnail  # noqa: E402
from imagegen.palettes import BRAND  # noqa: E402
from imagegen.popart import render  # noqa: E402
from imagegen.render import render_png  # noqa: E402
from imagegen.prompts import agent_text  # noqa: E402
from imagegen.providers import ImageRequest, Provider, ProviderImage  # noqa: E402
from imagegen.recipes import make_spec  # noqa: E402
from imagegen.settings import Settings  # noqa: E402
from imagegen.jobs import open_workspace  # noqa: E402

CALL_SECONDS = 0.3


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def report(label: str, samples: list[float], target_ms: float) -> None:
    med = statistics.median(samples) * 1000
    p90 = sorted(samples)[int(len(samples) * 0.9)] * 1000
    verdict = "OK" if med <= target_ms else "OVER TARGET"
    print(f"{label:<44} median {med:7.2f} ms  p90 {p90:7.2f} ms  target <= {target_ms:g} ms  {verdict}")


def bench_renderer() -> None:
    """Draw + PNG encode as the local provider's workers do it (issue 14: p90 within 2x the median)."""
    colours = [(c.rgb, c.weight) for c in BRAND.colors]
    args = ("YouTube Transcription Scraper", colours, (1280, 720))
    for seed in range(6):  # warm the font cache and every composition family once
        render_png(*args, seed, "video")
    seeds = iter(range(100, 10_000))
    samples = timed(lambda: render_png(*args, next(seeds), "video"), 60)
    report("local renderer 1280x720 (draw + PNG)", samples, 60)
    med, p90 = statistics.median(samples), sorted(samples)[int(len(samples) * 0.9)]
    print(f"{'  p90 / median':<44} {p90 / med:.2f}  target <= 2  {'OK' if p90 <= 2 * med else 'OVER TARGET'}")


def bench_thumbnail() -> None:
    out = io.BytesIO()
    render("Thumbnail Bench", palette=BRAND, size=(1024, 768), seed=1).save(out, "JPEG", quality=90)
    jpeg = out.getvalue()
    report("thumbnail of a 1024x768 JPEG (384 px)", timed(lambda: make_thumbnail(jpeg), 200), 8)


class SleepyProvider(Provider):
    """Answers after 300 ms with a small valid PNG, like a fast remote provider."""

    name = "bench-sleepy"
    label = "Benchmark fake"

    def max_in_flight(self) -> int:
        return 8

    async def generate(self, request: ImageRequest) -> list[ProviderImage]:
        await asyncio.sleep(CALL_SECONDS)
        out = io.BytesIO()
        render("Fake", palette=BRAND, size=(320, 180), seed=request.seed).save(out, "PNG", compress_level=1)
        return [ProviderImage(data=out.getvalue(), seed=request.seed)]


def bench_concurrency() -> None:
    providers.PROVIDERS = providers.PROVIDERS + (SleepyProvider,)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IMAGEGEN_DATA_DIR"] = tmp
        ws = open_workspace(Settings())
        walls = []
        for run in range(5):
            spec = make_spec(ws, ws.get_agent("trend-radar"), provider="bench-sleepy", count=8, seed=run * 10)
            gen_id = start_generation(ws, "trend-radar", spec)
            start = time.perf_counter()
            status = asyncio.run(run_generation(ws, gen_id))
            walls.append(time.perf_counter() - start)
            assert status.value == "succeeded"
        ws.close()
    ratio = statistics.median(walls) / CALL_SECONDS
    verdict = "OK" if ratio <= 1.25 else "OVER TARGET"
    print(f"{'8 candidates, fake provider answering in 300 ms':<44} median wall {statistics.median(walls) * 1000:7.1f} ms = {ratio:.2f} x one call  target <= 1.25 x  {verdict}")


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_renderer()
    bench_thumbnail()
    bench_concurrency()
