"""Ideogram: 3.0 through `POST /v1/ideogram-v3/generate` (multipart), V_2 and V_2_TURBO through `POST /generate`.

Follows ../shared/specs/ideogram-openapi.json. Up to 8 images come from one request; their
links expire, so each is downloaded at once, in parallel, after the in-flight budget (10 images
per organisation, counted while Ideogram works) is released. An unsafe image is a blocked candidate.
"""

from __future__ import annotations

import asyncio
import json
from typing import Awaitable, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from imagegen.errors import ImagegenError, InvalidInput, ProviderTimeout, ProviderUnavailable, from_response
from imagegen.providers.base import ImageRequest, Provider, ProviderImage, ProviderSettings, blank_key_is_no_key
from imagegen.providers.http import build_client, download, keep_requested, parse_hosts, retry_after_seconds, retrying, vendor_message
from imagegen.records import Palette

DELIVERY_HOSTS = ("ideogram.ai", "*.ideogram.ai")
V3_STYLES = ("AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION")
LEGACY_STYLES = ("AUTO", "GENERAL", "REALISTIC", "DESIGN", "RENDER_3D", "ANIME")
LEGACY_ASPECTS = ("10x16", "16x10", "9x16", "16x9", "3x2", "2x3", "4x3", "3x4", "1x1", "1x3", "3x1")


class IdeogramSettings(ProviderSettings):
    """Ideogram's own settings; composed into `imagegen.settings.Settings`."""

    ideogram_api_key: SecretStr | None = Field(None, alias="IDEOGRAM_API_KEY")
    ideogram_base_url: str = Field("https://api.ideogram.ai", alias="IDEOGRAM_BASE_URL")
    # Ideogram allows 10 images in flight per organisation.
    ideogram_max_in_flight: int = Field(10, alias="IDEOGRAM_MAX_IN_FLIGHT", ge=1, le=100)

    @field_validator("ideogram_api_key", mode="before")
    @classmethod
    def _no_ideogram_key_when_blank(cls, value):
        return blank_key_is_no_key(value)


class IdeogramOptions(BaseModel):
    """Options beyond the common recipe; values and ranges are the spec's."""

    model_config = ConfigDict(extra="forbid")

    rendering_speed: Literal["FLASH", "TURBO", "BALANCED", "DEFAULT", "QUALITY"] = "DEFAULT"
    # Upscale only: the candidate id this generation upscales, and how.
    upscale_of: int | None = Field(None, json_schema_extra={"hidden": True})
    # Vary only: the candidate this set is remixed from, and how much of it to keep (the spec's image_weight).
    vary_of: int | None = Field(None, json_schema_extra={"hidden": True})
    image_weight: int = Field(50, ge=1, le=100, json_schema_extra={"hidden": True})
    resemblance: int = Field(50, ge=1, le=100, json_schema_extra={"hidden": True})
    detail: int = Field(50, ge=1, le=100, json_schema_extra={"hidden": True})


def _image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def palette_payload(palette: Palette) -> dict:
    if palette.ideogram_preset:
        return {"name": palette.ideogram_preset}
    return {"members": [{"color_hex": c.hex, "color_weight": c.weight} for c in palette.colors]}


class IdeogramProvider(Provider):
    name = "ideogram"
    label = "Ideogram"
    needs_key = True
    key_env_var = "IDEOGRAM_API_KEY"
    max_images_per_call = 8
    models = ("V_3", "V_2", "V_2_TURBO")
    styles = V3_STYLES
    supports_negative_prompt = True
    supports_magic_prompt = True
    supports_upscale = True
    varies = ("V_3",)  # through Ideogram 3.0's remix
    options_model = IdeogramOptions
    default_template = "pop-art"

    def __init__(self, settings, transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(settings)
        self._key = settings.ideogram_api_key.get_secret_value() if settings.ideogram_api_key else ""
        self._api = build_client(base_url=settings.ideogram_base_url, headers={"Api-Key": self._key}, timeout=settings.provider_timeout, transport=transport)
        # Downloads never carry the key.
        self._downloads = build_client(timeout=settings.provider_timeout, transport=transport)
        self._hosts = parse_hosts(settings.download_hosts, DELIVERY_HOSTS)

    def max_in_flight(self) -> int:
        return self.settings.ideogram_max_in_flight

    async def aclose(self) -> None:
        await self._api.aclose()
        await self._downloads.aclose()

    async def generate(self, request: ImageRequest) -> list[ProviderImage]:
        return list(await asyncio.gather(*await self.submit(request)))

    async def submit(self, request: ImageRequest) -> list[Awaitable[ProviderImage]]:
        """The API call; each image's download is returned to run after the budget is released."""
        model = request.model or "V_3"
        try:
            options = IdeogramOptions(**request.options)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InvalidInput(f"Ideogram option {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        if (options.upscale_of or options.vary_of) and request.source_image is None:
            raise InvalidInput("The candidate's image is missing, so there is nothing to start from.")
        if options.upscale_of:
            path, kwargs = "/upscale", {"files": self._upscale_form(request, options)}
        elif options.vary_of:
            path, kwargs = "/v1/ideogram-v3/remix", {"files": self._remix_form(request, options)}
        elif model == "V_3":
            path, kwargs = "/v1/ideogram-v3/generate", {"files": self._v3_form(request, options)}
        elif model in ("V_2", "V_2_TURBO"):
            path, kwargs = "/generate", {"json": {"image_request": self._legacy_body(request, model)}}
        else:
            raise InvalidInput(f"Unknown Ideogram model {model!r}: use one of {', '.join(self.models)}.")
        body = await self._post(path, **kwargs)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ProviderUnavailable("Ideogram answered in an unexpected shape (no list of images); try again.")
        items = keep_requested(items, request.count, "Ideogram")
        return [self._fetch(item) for item in items]

    def _v3_form(self, request: ImageRequest, options: IdeogramOptions) -> list[tuple[str, tuple]]:
        """Multipart fields as the spec documents them; the palette is a JSON part."""
        if request.style and request.style not in V3_STYLES:
            raise InvalidInput(f"Ideogram 3.0 styles are {', '.join(V3_STYLES)}; {request.style!r} is not one.")
        fields: dict[str, str] = {
            "prompt": request.prompt,
            "aspect_ratio": request.aspect_ratio,
            "rendering_speed": options.rendering_speed,
            "num_images": str(request.count),
            "seed": str(request.seed),
        }
        if request.magic_prompt:
            fields["magic_prompt"] = request.magic_prompt
        if request.style:
            fields["style_type"] = request.style
        if request.negative_prompt:
            fields["negative_prompt"] = request.negative_prompt
        form = [(k, (None, v)) for k, v in fields.items()]
        if request.palette:
            form.append(("color_palette", (None, json.dumps(palette_payload(request.palette)), "application/json")))
        return form

    def _remix_form(self, request: ImageRequest, options: IdeogramOptions) -> list[tuple[str, tuple]]:
        """3.0's remix: the generate fields plus the candidate as `image` and how much of it to keep."""
        return [
            ("image", ("candidate", request.source_image, _image_type(request.source_image))),
            ("image_weight", (None, str(options.image_weight))),
            *self._v3_form(request, options),
        ]

    def _upscale_form(self, request: ImageRequest, options: IdeogramOptions) -> list[tuple[str, tuple]]:
        image_request = {"prompt": request.prompt, "resemblance": options.resemblance, "detail": options.detail,
                         "num_images": 1, "seed": request.seed}
        if request.magic_prompt:
            image_request["magic_prompt_option"] = request.magic_prompt
        return [
            ("image_request", (None, json.dumps(image_request), "application/json")),
            ("image_file", ("candidate.png", request.source_image, "image/png")),
        ]

    def _legacy_body(self, request: ImageRequest, model: str) -> dict:
        if request.aspect_ratio not in LEGACY_ASPECTS:
            raise InvalidInput(f"{model} does not offer the {request.aspect_ratio} aspect ratio; choose one of {', '.join(LEGACY_ASPECTS)}.")
        if request.style and request.style not in LEGACY_STYLES:
            raise InvalidInput(f"{model} styles are {', '.join(LEGACY_STYLES)}; {request.style!r} is not one.")
        w, h = request.aspect_ratio.split("x")
        body = {
            "prompt": request.prompt,
            "model": model,
            "aspect_ratio": f"ASPECT_{w}_{h}",
            "num_images": request.count,
            "seed": request.seed,
        }
        if request.magic_prompt:
            body["magic_prompt_option"] = request.magic_prompt
        if request.style:
            body["style_type"] = request.style
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.palette:
            body["color_palette"] = palette_payload(request.palette)
        return body

    async def _post(self, path: str, **kwargs) -> dict:
        async for attempt in retrying(self.settings.provider_attempts, self.settings.retry_max_wait):
            with attempt:
                try:
                    response = await self._api.post(path, **kwargs)
                except httpx.TimeoutException:
                    raise ProviderTimeout(f"Ideogram did not answer within {self.settings.provider_timeout:g} s.") from None
                except httpx.TransportError as exc:
                    raise ProviderUnavailable(f"Could not reach Ideogram at {self.settings.ideogram_base_url} ({type(exc).__name__}).") from None
                self._raise_for_status(response)
                try:
                    return response.json()
                except ValueError:
                    raise ProviderUnavailable("Ideogram answered with something that is not JSON.") from None
        raise AssertionError("unreachable")

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise from_response("Ideogram", response.status_code, vendor_message(response), secrets=(self._key,),
                                key_var=self.key_env_var, retry_after=retry_after_seconds(response), safety_422=True)

    async def _fetch(self, item: dict) -> ProviderImage:
        seed, prompt = item.get("seed"), item.get("prompt")
        if not item.get("is_image_safe", True) or not item.get("url"):
            return ProviderImage(blocked=True, seed=seed, prompt=prompt)
        try:
            async for attempt in retrying(self.settings.provider_attempts, self.settings.retry_max_wait):
                with attempt:
                    data = await download(self._downloads, item["url"], self._hosts, self.settings.max_image_bytes, "Ideogram")
        except ImagegenError as exc:
            return ProviderImage(error=str(exc), seed=seed, prompt=prompt)
        return ProviderImage(data=data, seed=seed, prompt=prompt)
