"""The offline provider: pop-art thumbnails drawn with Pillow, no key, no network."""

from __future__ import annotations

import asyncio
import io

from imagegen.palettes import BRAND
from imagegen.popart import render
from imagegen.providers.base import ImageRequest, Provider, ProviderImage
from imagegen.records import aspect_size


class LocalProvider(Provider):
    name = "local"
    label = "Local renderer (offline)"
    models = ("popart-1",)

    def max_in_flight(self) -> int:
        return self.settings.local_concurrency

    async def generate(self, request: ImageRequest) -> list[ProviderImage]:
        return [await asyncio.to_thread(self._draw, request, request.seed + i) for i in range(request.count)]

    def _draw(self, request: ImageRequest, seed: int) -> ProviderImage:
        agent = request.agent
        image = render(
            agent.title,  # the curator's short title when the name is too long to draw
            palette=request.palette or BRAND,
            size=aspect_size(request.aspect_ratio),
            seed=seed,
            categories=tuple(c.strip() for c in agent.categories.split(",") if c.strip()),
            keywords=f"{agent.sub_heading} {agent.description}",
        )
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=1)
        return ProviderImage(data=out.getvalue(), seed=seed, prompt=request.prompt)
