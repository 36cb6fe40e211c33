"""Every error Thumbnail Studio raises on purpose, in one place.

ImagegenError                  base: a message a curator can act on
├── ConfigError                settings or environment are wrong
│   └── MissingKeyError        a provider needs a key that is not set
├── InvalidInput               a recipe, palette, template or agent text was refused
│   └── BudgetExceeded         paid work that would pass the daily budget
├── NotFound                   an agent, generation or candidate id does not exist
├── ProviderError              a provider call went wrong
│   ├── AuthError              the key was rejected (401/403)
│   ├── PaymentRequired        out of credits (402)
│   ├── SafetyRejected         the prompt failed the provider's safety check (422 on Ideogram)
│   ├── BadRequest             the provider named a bad parameter (400/422)
│   ├── RateLimited            429 after our retries
│   ├── ProviderUnavailable    5xx or connection trouble after our retries
│   ├── ProviderTimeout        no answer in time
│   ├── PredictionFailed       the provider ran the job and reported failure
│   └── DownloadFailed         a result image could not be fetched (expired link, HTTP error)
├── NotAllowed                 the acting person's role may not do this (or nobody is signed in)
├── DownloadRefused            a result URL off the allowlist, a redirect off it, or too big
├── InvalidImage               bytes that are not a sane image
├── StorageError               the database or the media store failed
│   └── UploadFailed           an approved image could not be stored; nothing was recorded
└── PublishFailed              a publishing target refused or was unreachable; the approval stands

Messages never contain secrets: every provider error from an HTTP status is built by
`from_response`, which redacts every secret from the vendor's text.
"""

from __future__ import annotations

from collections.abc import Iterable


class ImagegenError(Exception):
    """Base class. `str(err)` is written for the person at the keyboard."""


class ConfigError(ImagegenError):
    pass


class MissingKeyError(ConfigError):
    def __init__(self, provider: str, env_var: str):
        self.provider = provider
        self.env_var = env_var
        super().__init__(
            f"The {provider} provider needs an API key: set {env_var} in the environment, "
            f"in .env or in .streamlit/secrets.toml."
        )


class InvalidInput(ImagegenError):
    pass


class BudgetExceeded(InvalidInput):
    pass


class NotFound(ImagegenError):
    pass


class ProviderError(ImagegenError):
    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class AuthError(ProviderError):
    pass


class PaymentRequired(ProviderError):
    pass


class SafetyRejected(ProviderError):
    pass


class BadRequest(ProviderError):
    pass


class RateLimited(ProviderError):
    retryable = True


class ProviderUnavailable(ProviderError):
    retryable = True


class ProviderTimeout(ProviderError):
    retryable = True


class PredictionFailed(ProviderError):
    pass


class DownloadFailed(ProviderError):
    pass


class NotAllowed(ImagegenError):
    pass


class DownloadRefused(ImagegenError):
    pass


class InvalidImage(ImagegenError):
    pass


class StorageError(ImagegenError):
    pass


class UploadFailed(StorageError):
    pass


def redact(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def from_response(vendor: str, status: int, text: str | None, *, secrets: Iterable[str | None], key_var: str,
                  retry_after: float | None = None, safety_422: bool = False) -> ProviderError:
    """The one place a vendor's HTTP status and words become an error a curator can act on.
    `text` is the vendor's own message; every secret in it is redacted before it is kept."""
    said = redact((text or "").strip(), *secrets)
    kw = {"status_code": status}
    if status in (401, 403):
        return AuthError(f"{vendor} rejected the API key (HTTP {status}): check {key_var}.", **kw)
    if status == 402:
        return PaymentRequired(f"{vendor} says the account is out of credits (HTTP 402): add credits, then try again.", **kw)
    if status == 422 and safety_422:
        return SafetyRejected(f"{vendor}'s safety check refused the prompt: {said or 'no reason given'}. Reword the prompt.", **kw)
    if status in (400, 422):
        return BadRequest(f"{vendor} refused a parameter: {said or 'no detail given'}.", **kw)
    if status == 429:
        return RateLimited(f"{vendor} is rate limiting (HTTP 429): too much in flight; wait a moment.", retry_after=retry_after, **kw)
    if status >= 500:
        return ProviderUnavailable(f"{vendor} is having trouble (HTTP {status}); try again shortly.", retry_after=retry_after, **kw)
    return ProviderError(f"{vendor} answered HTTP {status}: {said or 'no detail given'}", **kw)


class PublishFailed(ImagegenError):
    """`needs_submission` marks the store's APPROVED listings, which only a new submission can change."""

    def __init__(self, message: str, *, needs_submission: bool = False):
        super().__init__(message)
        self.needs_submission = needs_submission
