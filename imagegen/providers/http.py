"""HTTP for providers: one client factory, one retry policy, and safe result downloads."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from imagegen.errors import DownloadFailed, DownloadRefused, ProviderError, ProviderTimeout, ProviderUnavailable

log = logging.getLogger(__name__)
USER_AGENT = "thumbnail-studio/1.0"
MAX_REDIRECTS = 3


def build_client(*, base_url: str = "", headers: dict[str, str] | None = None, timeout: float = 120.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """Every provider client is made here: explicit timeouts, no redirects followed silently."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        follow_redirects=False,
        transport=transport,
    )


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


def _wait(max_wait: float):
    backoff = wait_exponential_jitter(multiplier=0.5, max=max_wait, jitter=0.5)

    def wait(state) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(max(retry_after, 0.0), max_wait)  # the vendor said when; believe it, within reason
        return backoff(state)

    return wait


def retrying(attempts: int, max_wait: float = 20.0) -> AsyncRetrying:
    """429, 5xx and timeouts are retried with exponential backoff and jitter, honouring Retry-After."""
    return AsyncRetrying(
        retry=retry_if_exception(_is_retryable),
        wait=_wait(max_wait),
        stop=stop_after_attempt(attempts),
        reraise=True,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date; the backoff will do


def vendor_message(response: httpx.Response, limit: int = 300) -> str:
    """The vendor's own words from an error body, trimmed."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return response.text.strip()[:limit]
    if isinstance(body, dict):
        for key in ("error", "detail", "message", "title"):
            if isinstance(body.get(key), str):
                return body[key][:limit]
    return json.dumps(body)[:limit]


def keep_requested(items: list, count: int, vendor: str) -> list:
    """Never fetch more images than were asked for: extra results are ignored and logged."""
    if len(items) > count:
        log.warning("%s returned %d results for %d images asked; the extra ones are ignored", vendor, len(items), count)
    return items[:count]


@dataclass(frozen=True)
class HostRule:
    scheme: str
    host: str  # "example.com", or ".example.com" for any subdomain
    port: int | None = None

    def admits(self, scheme: str, host: str, port: int | None) -> bool:
        if scheme != self.scheme:
            return False
        if self.port is not None and port != self.port:
            return False
        if self.host.startswith("."):
            return host.endswith(self.host)
        return host == self.host


def parse_hosts(text: str | None, defaults: tuple[str, ...]) -> tuple[HostRule, ...]:
    """`IMAGEGEN_DOWNLOAD_HOSTS`: hosts (https), `*.domain` for subdomains, `http://127.0.0.1:PORT` for tests."""
    entries = [e.strip() for e in (text.split(",") if text else defaults) if e.strip()]
    rules = []
    for entry in entries:
        if "://" in entry:
            parts = urlsplit(entry)
            rules.append(HostRule(parts.scheme, (parts.hostname or "").lower(), parts.port))
        else:
            host = entry.lower()
            rules.append(HostRule("https", "." + host[2:] if host.startswith("*.") else host))
    return tuple(rules)


def check_url(url: str, rules: tuple[HostRule, ...]) -> None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not any(rule.admits(parts.scheme, host, parts.port) for rule in rules):
        raise DownloadRefused(
            f"Refused to download a result from {parts.scheme}://{host}: that host is not allowed "
            "(add it to IMAGEGEN_DOWNLOAD_HOSTS if you trust it)."
        )


async def download(client: httpx.AsyncClient, url: str, rules: tuple[HostRule, ...], max_bytes: int, vendor: str,
                   deadline: float | None = None) -> bytes:
    """Fetch a result image: allowlisted hosts only (redirects too), stopping at `max_bytes`, and
    within `deadline` seconds in total (the client's timeout is per read: a drip would pass it)."""
    try:
        async with asyncio.timeout(deadline or client.timeout.read):
            return await _download(client, url, rules, max_bytes, vendor)
    except TimeoutError:
        raise ProviderTimeout(f"Downloading the {vendor} image took longer than {deadline or client.timeout.read:g} s.") from None


async def _download(client: httpx.AsyncClient, url: str, rules: tuple[HostRule, ...], max_bytes: int, vendor: str) -> bytes:
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, rules)
        try:
            async with client.stream("GET", url) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status_code in (401, 403, 404, 410):
                    raise DownloadFailed(f"The {vendor} image link has expired or is gone (HTTP {response.status_code}); generate again.", status_code=response.status_code)
                if response.status_code >= 500 or response.status_code == 429:
                    raise ProviderUnavailable(f"{vendor}'s image host answered HTTP {response.status_code}.", status_code=response.status_code, retry_after=retry_after_seconds(response))
                if response.status_code != 200:
                    raise DownloadFailed(f"Downloading the {vendor} image failed (HTTP {response.status_code}).", status_code=response.status_code)
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > max_bytes:
                    raise DownloadRefused(f"The {vendor} image is {declared / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit.")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise DownloadRefused(f"The {vendor} image is over the {max_bytes / 1e6:.0f} MB limit.")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.TimeoutException:
            raise ProviderTimeout(f"Downloading the {vendor} image timed out.") from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"Could not reach {vendor}'s image host ({type(exc).__name__}).") from None
    raise DownloadRefused(f"The {vendor} image link redirected more than {MAX_REDIRECTS} times.")
