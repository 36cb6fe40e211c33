"""Stand-in providers for engine tests: they answer like a provider would, from a script."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from imagegen.errors import ProviderUnavailable
from imagegen.providers import ImageRequest, Provider, ProviderImage
from tests.conftest import png_bytes

GOOD = png_bytes((96, 54), colour=(10, 200, 30))


class ScriptedProvider(Provider):
    """Answers each seed's image by `script[seed % len(script)]`, after `delay` seconds."""

    name = "scripted"
    label = "Scripted fake"
    script: tuple[str, ...] = ("ok",)
    delay: float = 0.0
    limit: int = 8
    in_flight = 0
    peak = 0
    calls: list[int] = []

    def max_in_flight(self) -> int:
        return self.limit

    async def generate(self, request: ImageRequest) -> list[ProviderImage]:
        cls = type(self)
        cls.calls.append(request.count)
        cls.in_flight += 1
        cls.peak = max(cls.peak, cls.in_flight)
        try:
            await asyncio.sleep(self.delay if request.seed % len(self.script) else self.delay / 10)
            out = []
            for seed in range(request.seed, request.seed + request.count):
                kind = self.script[seed % len(self.script)]
                if kind == "raise":
                    raise ProviderUnavailable("Ideogram is having trouble (HTTP 503); try again in a minute.")
                if kind == "slow":
                    await asyncio.sleep(60)
                out.append(
                    {
                        "ok": ProviderImage(data=GOOD, seed=seed, prompt="improved prompt"),
                        "slow": ProviderImage(data=GOOD, seed=seed),
                        "blocked": ProviderImage(blocked=True, seed=seed),
                        "error": ProviderImage(error="The model returned nothing.", seed=seed),
                        "garbage": ProviderImage(data=b"<html>expired</html>", seed=seed),
                    }[kind]
                )
            return out
        finally:
            cls.in_flight -= 1


def scripted(script, *, delay=0.0, limit=8, per_call=1, name="scripted"):
    return type(
        "Scripted",
        (ScriptedProvider,),
        {"name": name, "script": tuple(script), "delay": delay, "limit": limit, "max_images_per_call": per_call, "calls": [], "in_flight": 0, "peak": 0},
    )


def run_together(ws, generation_ids: list[int]) -> None:
    """Run jobs side by side on one fresh loop, as a worker does, then close that loop's clients."""
    from imagegen.generation import run_generation

    async def run() -> None:
        try:
            await asyncio.gather(*(run_generation(ws, job) for job in generation_ids))
        finally:
            await ws.aclose_providers()

    asyncio.run(run())


def wait_until(condition, timeout: float, what: str, poll: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_once_an_image_is_stored(ws, start) -> None:
    """Run the coroutine `start()` on a fresh loop and cancel it, as a shutdown does, once its first
    image is stored: the others being stored then wait until the cancel is delivered."""
    real_put, first, stored, stopped = ws.media.put, threading.Lock(), threading.Event(), threading.Event()

    def put(data, image_format, **kw):
        if not first.acquire(blocking=False):
            stopped.wait(10)
        key = real_put(data, image_format, **kw)
        stored.set()
        return key

    async def run() -> None:
        task = asyncio.ensure_future(start())
        while not stored.is_set():
            await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.sleep(0.05)  # delivered while the other saves wait
        stopped.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ws.media.put = put
    try:
        asyncio.run(run())
    finally:
        ws.media.put = real_put
