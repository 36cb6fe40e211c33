"""Engine benchmark (issue 9). Prints figures; never fails because a machine is slow.

    .venv/bin/python bench/engine.py

1. event-loop lag (p99) while 8 jobs check, stamp, hash and fsync 1280x720 images   target <= 50 ms
2. fan-out: 8 candidates vs 1 against the fake Ideogram answering in 300 ms          target <= 1.25 x
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imagegen import providers  # noqa: E402
from imagegen.generation import run_generation, start_generation  # noqa: E402
from imagegen.jobs import open_workspace  # noqa: E402
from imagegen.palettes import BRAND  # noqa: E402
from imagegen.popart import render  # noqa: E402
from imagegen.providers import ImageRequest, Provider, ProviderImage  # noqa: E402
from imagegen.recipes import make_spec  # noqa: E402
from imagegen.settings import Settings  # noqa: E402

CALL_SECONDS = 0.3


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    render("Engine Bench", palette=BRAND, size=(1280, 720), seed=seed).save(out, "PNG", compress_level=1)
    return out.getvalue()


class Prerendered(Provider):
    """Answers at once with full-size PNGs, so the engine's own saving work is what is measured."""

    name = "bench-prerendered"
    label = "Benchmark fake"
    max_images_per_call = 8
    images = [_png(i) for i in range(8)]

    def max_in_flight(self) -> int:
        return 64

    async def generate(self, request: ImageRequest) -> list[ProviderImage]:
        await asyncio.sleep(0.01)
        return [ProviderImage(data=self.images[i % 8], seed=request.seed + i) for i in range(request.count)]


def bench_loop_lag() -> None:
    providers.PROVIDERS = providers.PROVIDERS + (Prerendered,)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IMAGEGEN_DATA_DIR"] = tmp
        ws = open_workspace(Settings())
        lags: list[float] = []

        async def main() -> None:
            ids = [start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider=Prerendered.name, count=4, seed=100 * i)) for i in range(8)]
            jobs = asyncio.ensure_future(asyncio.gather(*(run_generation(ws, i) for i in ids)))
            while not jobs.done():
                before = time.perf_counter()
                await asyncio.sleep(0.002)
                lags.append(time.perf_counter() - before - 0.002)
            await jobs

        for _ in range(3):
            asyncio.run(main())
        ws.close()
    p99 = sorted(lags)[int(len(lags) * 0.99)] * 1000
    verdict = "OK" if p99 <= 50 else "OVER TARGET"
    print(f"{'loop lag, 8 jobs x 4 images saving':<44} p99 {p99:7.2f} ms  max {max(lags) * 1000:7.2f} ms  ({len(lags)} probes)  target <= 50 ms  {verdict}")


def bench_fan_out() -> None:
    try:
        from tests.fake_ideogram import KEY, FakeIdeogram

        fake = FakeIdeogram(max_requests=400, lifetime=300).start()
    except BaseException as exc:  # pytest's Skipped when ../shared is missing
        print(f"fan-out: skipped ({exc})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(IMAGEGEN_DATA_DIR=tmp, IDEOGRAM_API_KEY=KEY, IDEOGRAM_BASE_URL=fake.base_url, IMAGEGEN_DOWNLOAD_HOSTS=fake.base_url)
        ws = open_workspace(Settings())

        def wall(count: int, seed: int) -> float:
            fake.faults.append({"delay": CALL_SECONDS})
            gen_id = start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="ideogram", count=count, seed=seed))

            async def run():
                try:
                    return await run_generation(ws, gen_id)
                finally:
                    await ws.aclose_providers()

            start = time.perf_counter()
            assert asyncio.run(run()).value == "succeeded"
            return time.perf_counter() - start

        one = statistics.median(wall(1, s) for s in range(5))
        eight = statistics.median(wall(8, 100 + s) for s in range(5))
        ws.close()
    fake.stop()
    ratio = eight / one
    verdict = "OK" if ratio <= 1.25 else "OVER TARGET"
    print(f"{'fan-out, fake Ideogram answering in 300 ms':<44} 1 candidate {one * 1000:6.0f} ms, 8 candidates {eight * 1000:6.0f} ms = {ratio:.2f} x  target <= 1.25 x  {verdict}")


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_loop_lag()
    bench_fan_out()
