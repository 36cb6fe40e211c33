"""The provider registry. Adding a provider is one module and one entry in PROVIDERS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imagegen.errors import InvalidInput, MissingKeyError
from imagegen.providers.base import ImageRequest, Provider, ProviderImage
from imagegen.providers.ideogram import IdeogramProvider
from imagegen.providers.local import LocalProvider
from imagegen.providers.replicate import ReplicateProvider

if TYPE_CHECKING:  # settings.py composes the providers' settings, so this import is for types only
    from imagegen.settings import Settings

PROVIDERS: tuple[type[Provider], ...] = (LocalProvider, IdeogramProvider, ReplicateProvider)

__all__ = ["ImageRequest", "Provider", "ProviderImage", "PROVIDERS", "provider_class", "provider_choices", "default_provider"]


@dataclass(frozen=True)
class ProviderChoice:
    cls: type[Provider]
    enabled: bool
    reason: str | None  # why it is disabled, naming the variable to set


def provider_class(name: str) -> type[Provider]:
    for cls in PROVIDERS:
        if cls.name == name:
            return cls
    raise InvalidInput(f"Unknown provider {name!r}: choose one of {', '.join(c.name for c in PROVIDERS)}.")


def has_key(cls: type[Provider], settings: Settings) -> bool:
    if not cls.needs_key:
        return True
    value = getattr(settings, cls.key_env_var.lower(), None)  # type: ignore[union-attr]
    return value is not None and bool(value.get_secret_value())


def provider_choices(settings: Settings) -> list[ProviderChoice]:
    return [
        ProviderChoice(cls, has_key(cls, settings), None if has_key(cls, settings) else str(MissingKeyError(cls.name, cls.key_env_var or "")))
        for cls in PROVIDERS
    ]


def build_provider(name: str, settings: Settings) -> Provider:
    cls = provider_class(name)
    if not has_key(cls, settings):
        raise MissingKeyError(cls.name, cls.key_env_var or "")
    return cls(settings)


def default_provider(settings: Settings) -> str:
    """IMAGEGEN_DEFAULT_PROVIDER if set, else the first provider with a key, else the offline one."""
    if settings.default_provider:
        return provider_class(settings.default_provider).name
    keyed = [cls.name for cls in PROVIDERS if cls.needs_key and has_key(cls, settings)]
    return keyed[0] if keyed else LocalProvider.name
