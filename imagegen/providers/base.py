"""What every provider is: a small class with a few attributes and one async method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, ClassVar

from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from imagegen.prompts import AgentText
from imagegen.records import Palette

if TYPE_CHECKING:  # Settings is composed from the providers' own settings classes below
    from imagegen.settings import Settings


def blank_key_is_no_key(value):
    """An empty or blank key variable means "no key", so the provider shows as needing one."""
    return None if isinstance(value, str) and not value.strip() else value


class ProviderSettings(BaseSettings):
    """What one provider reads from the environment, under the vendor's own variable names.
    Each remote provider declares a subclass in its module; `Settings` inherits them all, so a
    provider's fields live with it while every caller still reads `settings.<field>`."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)


@dataclass(frozen=True)
class ImageRequest:
    """One call's worth of work: `count` images, the first with `seed`, the rest seed+1, seed+2..."""

    agent: AgentText
    prompt: str
    aspect_ratio: str
    seed: int
    count: int = 1
    palette: Palette | None = None
    negative_prompt: str | None = None
    style: str | None = None
    magic_prompt: str | None = None
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    source_image: bytes | None = None  # the candidate an upscale or a variation starts from


@dataclass(frozen=True)
class ProviderImage:
    """One result. Exactly one of `data`, `blocked` or `error` says what happened."""

    data: bytes | None = None
    blocked: bool = False
    error: str | None = None
    seed: int | None = None
    prompt: str | None = None  # the prompt the provider says it used (e.g. after magic prompt)


class Provider:
    name: ClassVar[str]
    label: ClassVar[str]
    needs_key: ClassVar[bool] = False
    key_env_var: ClassVar[str | None] = None
    max_images_per_call: ClassVar[int] = 1
    models: ClassVar[tuple[str, ...]] = ()
    styles: ClassVar[tuple[str, ...]] = ()
    supports_negative_prompt: ClassVar[bool] = False
    supports_magic_prompt: ClassVar[bool] = False
    supports_upscale: ClassVar[bool] = False
    varies: ClassVar[tuple[str, ...]] = ()  # models that can make a new set near an existing candidate
    options_model: ClassVar[type[BaseModel] | None] = None  # provider-specific options, shown in the studio
    default_template: ClassVar[str] = "pop-art"
    # True only for images drawn by this app's own encoder: they were never downloaded, so the
    # engine skips the full decode that catches truncated files (4 ms an image at 1280x720).
    draws_locally: ClassVar[bool] = False

    def __init__(self, settings: Settings):
        self.settings = settings

    @classmethod
    def model_choices(cls, settings: Settings) -> tuple[str, ...]:
        return cls.models

    @classmethod
    def recipe_defaults(cls, model: str | None) -> dict[str, str]:
        """What the studio prefills for this provider and model."""
        return {"template": cls.default_template, "aspect_ratio": "16x9"}

    @classmethod
    def can_vary(cls, model: str | None) -> bool:
        return (model or (cls.models[0] if cls.models else "")) in cls.varies

    @classmethod
    def options_for(cls, model: str | None) -> type[BaseModel] | None:
        return cls.options_model

    def images_per_call(self, model: str | None) -> int:
        return self.max_images_per_call

    def max_in_flight(self) -> int:
        """How many images of this provider may be in flight at once in this process."""
        return 4

    async def generate(self, request: ImageRequest) -> list[ProviderImage]:
        raise NotImplementedError

    async def submit(self, request: ImageRequest) -> list[Awaitable[ProviderImage]]:
        """Make the call and return one awaitable per image that fetches it.

        The engine holds the in-flight budget only while this runs: what the vendor limits is
        work on its side, and downloads need not keep the next call waiting. Providers whose
        results arrive whole (local, fakes) just implement `generate`."""
        images = await self.generate(request)
        return [_ready(image) for image in images]

    async def aclose(self) -> None:
        """Release clients; called when the owner shuts down."""


async def _ready(image: ProviderImage) -> ProviderImage:
    return image
