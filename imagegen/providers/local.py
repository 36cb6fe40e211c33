"""The offline provider: pop-art thumbnails drawn with Pillow, no key, no network.

Rendering runs in a small process pool shared by the whole process: Pillow holds the GIL
for much of its drawing, so threads would leave the second core idle during a batch. The
pool starts on first use (with forkserver, never forking a process that runs threads) and
stops at interpreter exit or with `shutdown_render_pool()`.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from imagegen.palettes import BRAND
from imagegen.prompts import BUILT_IN, AgentText
from imagegen.providers.base import ImageRequest, Provider, ProviderImage
from imagegen.records import MAX_SEED, aspect_size
from imagegen.render import FAMILIES, render_png
from imagegen.render.subjects import SubjectChoice, pick_subject, words_of

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()
_SUBJECTS_KEPT = 64  # agents whose subject is remembered: more than a batch keeps in flight
_BOILERPLATE = {w for template in BUILT_IN.values() for w in words_of(template)}


def render_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            workers = max(1, min(4, os.cpu_count() or 1))
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                        initializer=_exit_with, initargs=(os.getpid(),))
        return _pool


def _exit_with(parent: int) -> None:
    """In each renderer process: exit when `parent` does. A worker's own parent is the forkserver,
    which outlives a killed app, and the pool's queues never report it gone, so without this a
    kill -9 would leave the renderers waiting for work for ever."""
    # Opened while the parent is alive, so a reused pid can't fool it. Linux only: elsewhere, poll.
    handle = os.pidfd_open(parent) if hasattr(os, "pidfd_open") else None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])  # readable once the process has exited
        else:
            while _alive(parent):
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def shutdown_render_pool() -> None:
    """Stop the worker processes and wait for them; the next render starts a new pool."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_render_pool)


def choose_subject(agent: AgentText, prompt: str) -> SubjectChoice:
    """Words the curator put in the prompt come first; the template's own words and the
    agent's text (already in the prompt through its fields) do not count as edits."""
    agent_words = set(words_of(f"{agent.name} {agent.sub_heading} {agent.description} {agent.categories}"))
    edits = [w for w in words_of(prompt) if w not in _BOILERPLATE and w not in agent_words]
    return pick_subject(prompt_words=edits, name=agent.name, sub_heading=agent.sub_heading, description=agent.description, categories=agent.categories)


def render_calls(agent: AgentText, subject: str, palette, aspect_ratio: str, seed: int, count: int) -> list[tuple]:
    """The `render_png` arguments of `count` images from `seed`: what the renderer draws for a request."""
    colours = [(c.rgb, c.weight) for c in (palette or BRAND).colors]
    size = aspect_size(aspect_ratio)
    return [(agent.name, colours, size, seed + i, subject, agent.short_title) for i in range(count)]


def variation_seeds(parent_seed: int, count: int) -> list[int]:
    """Seeds near a candidate's that draw its layout: the seed walks the composition families
    in turn and mirrors every other round, so steps of two rounds keep family and mirroring
    while the rest (background, placement, scale, colour jobs) changes."""
    step = 2 * len(FAMILIES)
    if parent_seed + step * count > MAX_SEED:
        step = -step
    return [parent_seed + step * (i + 1) for i in range(count)]


class LocalProvider(Provider):
    name = "local"
    label = "Local renderer (offline)"
    models = ("popart-1",)
    draws_locally = True
    varies = models  # with variation_seeds

    def __init__(self, settings):
        super().__init__(settings)
        self.render_pids: set[int] = set()  # which processes drew this provider's images
        # The engine asks for each candidate in its own call; they share one subject choice.
        # Tasks, not results, so the calls of one agent that arrive together wait for one choice.
        self._subjects: dict[tuple[AgentText, str], asyncio.Future[SubjectChoice]] = {}

    async def _subject(self, agent: AgentText, prompt: str) -> SubjectChoice:
        key = (agent, prompt)
        if key not in self._subjects:
            if len(self._subjects) >= _SUBJECTS_KEPT:
                del self._subjects[next(iter(self._subjects))]  # the oldest agent's batch moved on
            self._subjects[key] = asyncio.ensure_future(asyncio.to_thread(choose_subject, agent, prompt))
        return await asyncio.shield(self._subjects[key])  # one canceled call must not cancel the others' choice

    def max_in_flight(self) -> int:
        return self.settings.local_concurrency

    async def generate(self, request: ImageRequest) -> list[ProviderImage]:
        agent = request.agent
        choice = await self._subject(agent, request.prompt)
        args = render_calls(agent, choice.subject, request.palette, request.aspect_ratio, request.seed, request.count)
        loop = asyncio.get_running_loop()
        try:
            results = await asyncio.gather(*(loop.run_in_executor(render_pool(), render_png, *a) for a in args))
        except BrokenProcessPool:
            shutdown_render_pool()  # a worker died (killed, out of memory): draw here, a new pool next time
            results = await asyncio.gather(*(asyncio.to_thread(render_png, *a) for a in args))
        images = []
        for (data, pid), a in zip(results, args):
            self.render_pids.add(pid)
            images.append(ProviderImage(data=data, seed=a[3], prompt=choice.explain()))
        return images
