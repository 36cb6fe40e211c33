"""Replicate: Flux 1.1 Pro, Flux Schnell and Ideogram v3 Turbo through the official client.

Follows ../shared/specs/replicate-openapi.json. A prediction is created with `Prefer: wait`;
one still running when the wait ends is polled to completion under a deadline, and canceled
on Replicate when the curator cancels or the deadline passes. The client never retries a
POST, so a 429 or 5xx on create is retried here. Replicate limits the rate of creating
predictions, not how many run, so creates keep to REPLICATE_CREATES_PER_MINUTE and a job's
predictions all run at once. Outputs (a URL, a list, `FileOutput`s or
`data:` URIs) are fetched at once: Replicate deletes them after an hour.

We call `predictions.async_create` and poll with `async_reload` rather than `async_run`,
which does the same but hides the prediction, leaving nothing to cancel and no deadline.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal

import httpx
import pydantic.v1
import replicate
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from replicate.exceptions import ReplicateError
from replicate.helpers import transform_output

from imagegen.errors import (
    DownloadRefused,
    ImagegenError,
    InvalidInput,
    PredictionFailed,
    ProviderTimeout,
    ProviderUnavailable,
    from_response,
    redact,
)
from imagegen.providers.base import ImageRequest, Provider, ProviderImage, ProviderSettings, blank_key_is_no_key
from imagegen.providers.http import build_client, download, keep_requested, parse_hosts, retrying

DELIVERY_HOSTS = ("replicate.delivery", "*.replicate.delivery")
FINAL = ("succeeded", "failed", "canceled", "aborted")
RATE_WINDOW = 60.0  # seconds: REPLICATE_CREATES_PER_MINUTE counts creates in any such window


class ReplicateSettings(ProviderSettings):
    """Replicate's own settings; composed into `imagegen.settings.Settings`."""

    replicate_api_token: SecretStr | None = Field(None, alias="REPLICATE_API_TOKEN")
    replicate_base_url: str = Field("https://api.replicate.com", alias="REPLICATE_BASE_URL")
    replicate_models: str | None = Field(None, alias="REPLICATE_MODELS")  # extra owner/name slugs, comma-separated
    # Replicate limits the rate of creating predictions (600 a minute), so the in-flight cap
    # only bounds one process's polling.
    replicate_max_in_flight: int = Field(32, alias="REPLICATE_MAX_IN_FLIGHT", ge=1, le=100)
    replicate_creates_per_minute: int = Field(600, alias="REPLICATE_CREATES_PER_MINUTE", ge=1, le=6000)
    replicate_wait: int = Field(60, alias="REPLICATE_WAIT", ge=1, le=60)  # seconds of `Prefer: wait`
    replicate_poll_interval: float = Field(1.0, alias="REPLICATE_POLL_INTERVAL", gt=0, le=30)

    @field_validator("replicate_api_token", mode="before")
    @classmethod
    def _no_replicate_key_when_blank(cls, value):
        return blank_key_is_no_key(value)


def colon_ratio(aspect: str) -> str:
    return aspect.replace("x", ":")


class FluxProOptions(BaseModel):
    """black-forest-labs/flux-1.1-pro; the defaults are the original app-store recipe."""

    model_config = ConfigDict(extra="forbid")

    width: int | None = Field(None, ge=256, le=1440, multiple_of=32)
    height: int | None = Field(None, ge=256, le=1440, multiple_of=32)
    output_format: Literal["jpg", "png", "webp"] = "jpg"
    output_quality: int = Field(90, ge=0, le=100)
    safety_tolerance: int = Field(2, ge=1, le=6)
    prompt_upsampling: bool = False
    # Vary only: the candidate sent as `image_prompt`, which steers the new set towards it.
    vary_of: int | None = Field(None, json_schema_extra={"hidden": True})

    @model_validator(mode="after")
    def _both_or_neither(self) -> "FluxProOptions":
        if (self.width is None) != (self.height is None):
            raise ValueError("give both width and height for a custom size, or neither")
        return self


class FluxSchnellOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    megapixels: Literal["1", "0.25"] = "1"
    num_inference_steps: int = Field(4, ge=1, le=4)
    output_format: Literal["webp", "jpg", "png"] = "webp"
    output_quality: int = Field(80, ge=0, le=100)
    go_fast: bool = Field(
        False, json_schema_extra={"warning": "go_fast makes seeds non-reproducible: the same seed can give a different image."}
    )


class IdeogramTurboOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    style_type: Literal["None", "Auto", "General", "Realistic", "Design"] = "Auto"


@dataclass(frozen=True)
class ReplicateModel:
    slug: str
    options: type[BaseModel]
    build_input: Callable[[ImageRequest, Any], dict]
    max_outputs: int = 1
    template: str = "app-store"
    aspect_ratio: str = "4x3"


def data_uri(data: bytes) -> str:
    """An image as a `data:` URI, which Replicate accepts wherever a file URL goes."""
    kind = "png" if data.startswith(b"\x89PNG") else "webp" if data[8:12] == b"WEBP" else "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def _flux_pro_input(request: ImageRequest, o: FluxProOptions) -> dict:
    body = {"prompt": request.prompt, "seed": request.seed, "output_format": o.output_format,
            "output_quality": o.output_quality, "safety_tolerance": o.safety_tolerance,
            "prompt_upsampling": o.prompt_upsampling}
    if o.vary_of is not None:
        if request.source_image is None:
            raise InvalidInput("The candidate's image is missing, so there is nothing to vary.")
        body["image_prompt"] = data_uri(request.source_image)
    if o.width is not None:
        body.update(aspect_ratio="custom", width=o.width, height=o.height)
    elif request.aspect_ratio == "4x3":
        body.update(aspect_ratio="custom", width=1024, height=768)  # the original recipe's exact size
    else:
        ratio = colon_ratio(request.aspect_ratio)
        if ratio not in ("1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3"):
            raise InvalidInput(f"Flux 1.1 Pro has no {ratio} aspect ratio; pick another or set a custom width and height.")
        body["aspect_ratio"] = ratio
    return body


def _flux_schnell_input(request: ImageRequest, o: FluxSchnellOptions) -> dict:
    ratio = colon_ratio(request.aspect_ratio)
    if ratio not in ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"):
        raise InvalidInput(f"Flux Schnell has no {ratio} aspect ratio.")
    return {"prompt": request.prompt, "seed": request.seed, "aspect_ratio": ratio, "num_outputs": request.count,
            "megapixels": o.megapixels, "num_inference_steps": o.num_inference_steps,
            "output_format": o.output_format, "output_quality": o.output_quality, "go_fast": o.go_fast}


def _ideogram_turbo_input(request: ImageRequest, o: IdeogramTurboOptions) -> dict:
    ratio = colon_ratio(request.aspect_ratio)
    if ratio not in ("1:3", "3:1", "1:2", "2:1", "9:16", "16:9", "10:16", "16:10", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "1:1"):
        raise InvalidInput(f"Ideogram v3 Turbo has no {ratio} aspect ratio.")
    prompt = request.prompt
    if request.palette:  # this model takes no palette field, so the colours go into the words
        prompt += " Use only these colours: " + ", ".join(c.hex for c in request.palette.colors) + "."
    body = {"prompt": prompt, "seed": request.seed, "aspect_ratio": ratio, "style_type": o.style_type,
            "magic_prompt_option": (request.magic_prompt or "OFF").title()}
    return body


class GenericOptions(BaseModel):
    """A model a curator added by slug: its options are passed through as given."""

    model_config = ConfigDict(extra="allow")


def _generic_input(request: ImageRequest, o: GenericOptions) -> dict:
    return {"prompt": request.prompt, "seed": request.seed, "aspect_ratio": colon_ratio(request.aspect_ratio), **o.model_dump()}


MODELS: dict[str, ReplicateModel] = {
    m.slug: m
    for m in (
        ReplicateModel("black-forest-labs/flux-1.1-pro", FluxProOptions, _flux_pro_input),
        ReplicateModel("black-forest-labs/flux-schnell", FluxSchnellOptions, _flux_schnell_input, max_outputs=4),
        ReplicateModel("ideogram-ai/ideogram-v3-turbo", IdeogramTurboOptions, _ideogram_turbo_input, template="pop-art", aspect_ratio="16x9"),
    )
}


def model_for(slug: str | None, extra: str | None) -> ReplicateModel:
    slug = slug or next(iter(MODELS))
    if slug in MODELS:
        return MODELS[slug]
    if slug in extra_models(extra):
        return ReplicateModel(slug, GenericOptions, _generic_input)
    raise InvalidInput(f"Unknown Replicate model {slug!r}: use one of {', '.join([*MODELS, *extra_models(extra)])}, or add it to REPLICATE_MODELS.")


def extra_models(text: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (text or "").split(",") if s.strip().count("/") == 1)


class RateLimiter:
    """At most `rate` calls in any `window` seconds: Replicate limits how fast predictions are
    created (600 a minute), not how many run, and allows a burst of them at once."""

    def __init__(self, rate: int, window: float, *, clock=time.monotonic, sleep=asyncio.sleep):
        self.rate, self.window = rate, window
        self._clock, self._sleep = clock, sleep
        self._times: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()  # callers queue in order; created lazily on the first loop that uses it

    async def wait(self) -> None:
        async with self._lock:
            now = self._clock()
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            if len(self._times) >= self.rate:
                await self._sleep(self._times[0] + self.window - now)
                self._times.popleft()
            self._times.append(self._clock())


class ReplicateProvider(Provider):
    name = "replicate"
    label = "Replicate (Flux)"
    needs_key = True
    key_env_var = "REPLICATE_API_TOKEN"
    max_images_per_call = 4
    models = tuple(MODELS)
    supports_magic_prompt = False
    varies = ("black-forest-labs/flux-1.1-pro",)  # its image_prompt; the other models take no image
    default_template = "app-store"

    def __init__(self, settings, transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(settings)
        self._token = settings.replicate_api_token.get_secret_value() if settings.replicate_api_token else ""
        self._client = replicate.Client(
            api_token=self._token,
            base_url=settings.replicate_base_url,
            timeout=httpx.Timeout(settings.provider_timeout, connect=min(10.0, settings.provider_timeout)),
            **({"transport": transport} if transport else {}),
        )
        self._client.poll_interval = settings.replicate_poll_interval
        self._downloads = build_client(timeout=settings.provider_timeout, transport=transport)  # no token on downloads
        self._hosts = parse_hosts(settings.download_hosts, DELIVERY_HOSTS)
        self._creates = RateLimiter(settings.replicate_creates_per_minute, RATE_WINDOW)
        self._orphans: set[asyncio.Task] = set()  # creates a Cancel left: their prediction is canceled once it has an id

    @classmethod
    def model_choices(cls, settings) -> tuple[str, ...]:
        return (*MODELS, *extra_models(settings.replicate_models))

    @classmethod
    def recipe_defaults(cls, model: str | None) -> dict:
        m = MODELS.get(model or "", next(iter(MODELS.values())))
        return {"template": m.template, "aspect_ratio": m.aspect_ratio}

    @classmethod
    def options_for(cls, model: str | None) -> type[BaseModel] | None:
        m = MODELS.get(model or next(iter(MODELS)))
        return m.options if m else None

    def images_per_call(self, model: str | None) -> int:
        return model_for(model, self.settings.replicate_models).max_outputs

    def max_in_flight(self) -> int:
        return self.settings.replicate_max_in_flight

    async def aclose(self) -> None:
        await self._downloads.aclose()

    async def generate(self, request: ImageRequest) -> list[ProviderImage]:
        return list(await asyncio.gather(*await self.submit(request)))

    async def submit(self, request: ImageRequest) -> list[Awaitable[ProviderImage]]:
        """Create and finish the prediction; each output's download is returned to run after."""
        model = model_for(request.model, self.settings.replicate_models)
        try:
            options = model.options(**request.options)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InvalidInput(f"{model.slug} option {'.'.join(map(str, err['loc'])) or 'size'}: {err['msg'].removeprefix('Value error, ')}") from None
        body = model.build_input(request, options)
        prediction = await self._create(model.slug, body)
        prediction = await self._finish(prediction)
        outputs = transform_output(prediction.output, self._client)
        items = outputs if isinstance(outputs, list) else [outputs]
        if not items or items == [None]:
            raise PredictionFailed("Replicate finished the prediction but returned no image.")
        items = keep_requested(items, request.count, "Replicate")
        return [self._fetch(item, request.seed) for item in items]

    async def _create(self, slug: str, body: dict):
        owner, name = slug.split("/")
        async for attempt in retrying(self.settings.provider_attempts, self.settings.retry_max_wait):
            with attempt:
                await self._creates.wait()  # each attempt is a create Replicate counts
                return await self._call(self._sent(
                    self._client.models.predictions.async_create(model=(owner, name), input=body, wait=self.settings.replicate_wait)
                ))
        raise AssertionError("unreachable")

    async def _sent(self, create):
        """A create once it is sent. A Cancel while Replicate holds the answer (`Prefer: wait`)
        finds a prediction that already exists and has no id yet: the create is left to answer,
        and the prediction is canceled on Replicate as soon as its id is known. (A Cancel while
        the create still waits for its turn or a retry sends nothing.)"""
        made = asyncio.ensure_future(create)
        try:
            return await asyncio.shield(made)
        except asyncio.CancelledError:
            self._orphans.add(made)
            made.add_done_callback(self._cancel_orphan)
            raise

    def _cancel_orphan(self, made: asyncio.Future) -> None:
        self._orphans.discard(made)
        if made.cancelled() or made.exception() is not None or made.result().status in FINAL:
            return  # never made, or already over (and paid): nothing to cancel
        cancel = asyncio.ensure_future(self._cancel(made.result()))
        self._orphans.add(cancel)
        cancel.add_done_callback(self._orphans.discard)

    async def _finish(self, prediction):
        """Poll until the prediction ends or the deadline passes; cancel it on Replicate if we stop waiting."""
        try:
            async with asyncio.timeout(self.settings.provider_timeout):
                while prediction.status not in FINAL:
                    await asyncio.sleep(self._client.poll_interval)
                    await self._call(prediction.async_reload())
        except TimeoutError:
            await self._cancel(prediction)
            raise ProviderTimeout(f"The Replicate prediction was still running after {self.settings.provider_timeout:g} s, so it was canceled.") from None
        except asyncio.CancelledError:
            await self._cancel(prediction)
            raise
        if prediction.status == "failed":
            said = redact(str(prediction.error or ""), self._token)  # the vendor's text may echo the token
            raise PredictionFailed(f"Replicate says the prediction failed: {said or 'no reason given'}")
        if prediction.status == "canceled":
            raise PredictionFailed("The prediction was canceled on Replicate.")
        return prediction

    async def _cancel(self, prediction) -> None:
        try:
            await asyncio.shield(asyncio.wait_for(self._client.predictions.async_cancel(prediction.id), 10))
        except (ReplicateError, httpx.HTTPError, TimeoutError, asyncio.CancelledError):
            pass  # best effort: the prediction's own deadline still applies

    async def _call(self, awaitable):
        """The one place Replicate's errors become errors a curator can act on."""
        try:
            return await awaitable
        except ReplicateError as exc:
            raise from_response("Replicate", exc.status or 0, exc.detail or exc.title, secrets=(self._token,),
                                key_var=self.key_env_var) from None
        except pydantic.v1.ValidationError as exc:
            # The client's Prediction model has no "aborted" status, which the API does send.
            if "aborted" in str(exc):
                raise PredictionFailed("Replicate aborted the prediction before it started (its deadline passed); try again.") from None
            raise ProviderUnavailable("Replicate answered with a prediction the client could not read.") from None
        except httpx.TimeoutException:
            raise ProviderTimeout(f"Replicate did not answer within {self.settings.provider_timeout:g} s.") from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"Could not reach Replicate at {self.settings.replicate_base_url} ({type(exc).__name__}).") from None

    async def _fetch(self, item: Any, seed: int) -> ProviderImage:
        url = getattr(item, "url", item)  # a FileOutput or a plain URL string
        if not isinstance(url, str):
            return ProviderImage(error=f"Replicate returned {type(item).__name__} where an image URL was expected.", seed=seed)
        try:
            if url.startswith("data:"):
                return ProviderImage(data=self._decode_data_uri(url), seed=seed)
            async for attempt in retrying(self.settings.provider_attempts, self.settings.retry_max_wait):
                with attempt:
                    data = await download(self._downloads, url, self._hosts, self.settings.max_image_bytes, "Replicate")
        except ImagegenError as exc:
            return ProviderImage(error=str(exc), seed=seed)
        return ProviderImage(data=data, seed=seed)

    def _decode_data_uri(self, url: str) -> bytes:
        header, _, encoded = url.partition(",")
        if len(encoded) * 3 // 4 > self.settings.max_image_bytes:
            raise DownloadRefused(f"The Replicate image is over the {self.settings.max_image_bytes / 1e6:.0f} MB limit.")
        try:
            return base64.b64decode(encoded, validate=True) if header.endswith(";base64") else encoded.encode()
        except (binascii.Error, ValueError):
            raise DownloadRefused("Replicate returned a data: URI that is not valid base64.") from None
