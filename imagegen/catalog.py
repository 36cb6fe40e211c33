"""The agent catalog: sample agents; imports from store exports (CSV), JSON lists or the store API; edits."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterable, Iterator, TextIO
from urllib.parse import urlsplit

import httpx
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from imagegen.auth import Actor, local_admin, require
from imagegen.errors import InvalidInput, NotAllowed, ProviderError, ProviderUnavailable
from imagegen.listings import category_names
from imagegen.providers.http import build_client, parse_hosts, retrying
from imagegen.records import Agent, CatalogImport, Category, utcnow

if TYPE_CHECKING:
    from imagegen.settings import Settings
    from imagegen.workspace import Workspace

SAMPLES = Path(__file__).resolve().parent / "sample_agents.json"
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,199}$")


class AgentIn(BaseModel):
    """One agent as read from a file; store-export column names are accepted too."""

    model_config = ConfigDict(extra="ignore")

    slug: str
    name: str = Field(validation_alias=AliasChoices("name", "agent_name"), min_length=1, max_length=300)
    sub_heading: str = ""
    description: str = ""
    categories: list[str] = Field(default_factory=list)
    # The store's current image (the export's or the API's `agent_image`); only a browser loads it.
    store_image_url: str | None = Field(None, validation_alias=AliasChoices("store_image_url", "agent_image"))

    @field_validator("store_image_url", mode="before")
    @classmethod
    def _image_url(cls, value) -> str | None:
        if isinstance(value, list):
            value = value[0] if value else None
        value = str(value).strip() if value else ""
        # Only an absolute https URL is kept: anything else could make the browser load a local or scripted URL.
        return value if value.startswith("https://") and len(value) <= 2000 else None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        value = value.strip().lower()
        if not SLUG.match(value):
            raise ValueError("a slug is lower-case letters, digits, '.', '_' or '-'")
        return value

    @field_validator("name", "sub_heading", "description", mode="before")
    @classmethod
    def _text(cls, value) -> str:
        return "" if value is None else str(value).strip()

    @field_validator("categories", mode="before")
    @classmethod
    def _categories(cls, value) -> list[str]:
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    raise ValueError("categories look like a JSON list but do not parse") from None
            else:
                value = value.split(",")
        return [str(c).strip() for c in value if str(c).strip()]


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)  # "row N: what was wrong", the first MAX_REPORTED_ERRORS


MAX_REPORTED_ERRORS = 100
IMPORT_BATCH = 1000  # rows validated and written together; memory holds one batch at a time
_CHUNK = 1 << 16


def check_import_size(size: int, name: str, max_mb: float) -> None:
    if size > max_mb * 1024 * 1024:
        raise InvalidInput(
            f"{name} is {size / 1024 / 1024:.1f} MB, over the import limit of {max_mb:g} MB "
            f"(IMAGEGEN_IMPORT_MAX_MB): split it into smaller files or raise the limit."
        )


def open_catalog_file(path: Path, *, max_mb: float = 50) -> Iterator[dict]:
    """Rows of a store-export CSV or a JSON list of agents, read as they are needed."""
    path = Path(path)
    try:
        check_import_size(path.stat().st_size, path.name, max_mb)
        fh = path.open("rb")
    except FileNotFoundError:
        raise InvalidInput(f"No such file: {path}") from None
    return _closing(fh, iter_catalog(fh, path.name))


def _closing(fh: BinaryIO, rows: Iterator[dict]) -> Iterator[dict]:
    with fh:
        yield from rows


def read_catalog_file(path: Path, *, max_mb: float = 50) -> list[dict]:
    return list(open_catalog_file(path, max_mb=max_mb))


def parse_catalog(data: bytes, name: str, *, max_mb: float = 50) -> list[dict]:
    """Rows from the bytes of a store-export CSV or a JSON list (`name` is only for messages)."""
    check_import_size(len(data), name, max_mb)
    return list(iter_catalog(io.BytesIO(data), name))


def iter_catalog(stream: BinaryIO, name: str) -> Iterator[dict]:
    """Rows of a CSV or of a JSON list from a seekable byte stream, decoded one at a time."""
    start = stream.read(1024).decode("utf-8-sig", errors="ignore").lstrip()[:1]
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        if Path(name).suffix.lower() == ".json" or start in ("[", "{"):
            yield from _json_rows(text, name, start)
        else:
            reader = csv.DictReader(text)
            if not reader.fieldnames or "slug" not in reader.fieldnames:
                raise InvalidInput(f"{name} has no 'slug' column; expected the store export's columns "
                                   "(slug, agent_name, sub_heading, description, categories).")
            yield from reader
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not UTF-8 text.") from None
    except csv.Error as exc:
        raise InvalidInput(f"{name} is not a readable CSV ({exc}).") from None
    except RecursionError:
        raise InvalidInput(f"{name} is nested too deeply to be a catalog: expected a list of agent objects.") from None
    finally:
        text.detach()  # the caller owns the stream


def _json_rows(text: TextIO, name: str, start: str) -> Iterator[dict]:
    if start != "[":  # {"agents": [...]}: small exports only, read whole (the size limit bounds it)
        try:
            body = json.load(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name} is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
        rows = body.get("agents") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidInput(f"{name} must hold a JSON list of agent objects.")
        yield from rows
        return
    # A top-level list is decoded object by object from a sliding buffer, never whole.
    decoder, buf, pos, eof = json.JSONDecoder(), "", 0, False

    def more() -> None:
        nonlocal buf, pos, eof
        chunk = text.read(_CHUNK)
        buf, pos, eof = buf[pos:] + chunk, 0, not chunk

    def next_char() -> str:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos].isspace():
                pos += 1
            if pos < len(buf) or eof:
                return buf[pos] if pos < len(buf) else ""
            more()

    def bad(what: str) -> InvalidInput:
        return InvalidInput(f"{name} is not valid JSON ({what}).")

    more()
    next_char()
    pos += 1  # the "["
    number = 0
    while True:
        char = next_char()
        if char == "]":
            return
        if number:
            if char != ",":
                raise bad(f"expected ',' or ']' after agent {number}")
            pos += 1
            next_char()
        while True:
            try:
                row, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError:
                if eof:
                    raise bad(f"agent {number + 1} does not parse") from None
                more()
        if not isinstance(row, dict):
            raise InvalidInput(f"{name} must hold a JSON list of agent objects.")
        pos, number = end, number + 1
        yield row


def import_agents(session: Session, rows: Iterable[dict], *, batch_size: int = IMPORT_BATCH) -> ImportReport:
    """Add new agents and update existing ones by slug, `batch_size` rows at a time, in the
    caller's transaction (all or nothing). A bad row is reported, not fatal."""
    report = ImportReport()
    numbered = enumerate(rows, start=1)
    while batch := list(islice(numbered, batch_size)):
        items: dict[str, AgentIn] = {}
        for number, row in batch:
            try:
                item = AgentIn(**row)
            except ValidationError as exc:
                report.skipped += 1
                if len(report.errors) < MAX_REPORTED_ERRORS:
                    err = exc.errors()[0]
                    report.errors.append(f"row {number}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
                continue
            items[item.slug] = item  # a later row with the same slug wins
        existing = {a.slug: a for a in session.scalars(select(Agent).where(Agent.slug.in_(list(items))))}
        new = []
        for slug, item in items.items():
            values = item.model_dump(exclude={"slug"})
            if slug in existing:
                agent = existing[slug]
                for key, value in values.items():
                    if key == "store_image_url" and value is None:
                        continue  # a file without the column keeps what an earlier import found
                    setattr(agent, key, value)
                agent.updated_at = utcnow()
                report.updated += 1
            else:
                new.append({"slug": slug, **values})
        if new:
            session.execute(insert(Agent), new)
            report.added += len(new)
        session.flush()  # written now; the batch's objects are then free to go
    refresh_categories(session)
    return report


def refresh_categories(session: Session) -> None:
    """Recompute the categories in use after agents change: a scan at write time, so that
    listing them on every rerun reads a few rows instead of every agent."""
    if session.get_bind().dialect.name == "postgresql":
        in_use = "SELECT DISTINCT c FROM agents, json_array_elements_text(agents.categories) AS c"
    else:
        in_use = "SELECT DISTINCT j.value FROM agents, json_each(agents.categories) AS j"
    session.execute(delete(Category))
    # WHERE true lets SQLite parse ON CONFLICT after a SELECT; a concurrent import may have added the same names.
    session.execute(text(f"INSERT INTO categories (name) {in_use} WHERE true ON CONFLICT DO NOTHING"))


def import_catalog(ws: "Workspace", rows: Iterable[dict], *, source: str = "", actor: Actor | None = None) -> ImportReport:
    """An admin's import, recorded with who did it."""
    actor = require(actor or local_admin(ws.settings), "import")
    with ws.session() as s, s.begin():
        report = import_agents(s, rows)
        s.add(CatalogImport(imported_by=actor.email, source=source[:300], added=report.added, updated=report.updated,
                            errors=report.skipped))
    return report


def load_sample_agents(session: Session) -> ImportReport:
    return import_agents(session, json.loads(SAMPLES.read_text(encoding="utf-8")))


def all_categories(session: Session) -> list[str]:
    return category_names(session)


@dataclass
class StoreFetch:
    rows: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "page N: what went wrong"


# The same words whether nothing listens there or something that is not a store does, so the
# import cannot be used to map which ports are open on the server's network.
NO_STORE_THERE = "no agent store answered at that address; check the URL"


def store_host_rules(settings: "Settings"):
    """IMAGEGEN_STORE_HOSTS, or else exactly the configured store API's scheme, host and port."""
    default = ()
    if settings.store_api_url:
        parts = urlsplit(settings.store_api_url)
        default = (f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else ""),)
    return parse_hosts(settings.store_hosts, default) if settings.store_hosts or default else ()


async def fetch_store_catalog(ws: "Workspace", base_url: str, *, page_size: int = 50, actor: Actor | None = None) -> StoreFetch:
    """An admin's fetch of the store's agents, from an allowed store host only."""
    require(actor or local_admin(ws.settings), "import")
    parts = urlsplit(base_url.strip())
    host, scheme = (parts.hostname or "").lower(), parts.scheme
    rules = store_host_rules(ws.settings)
    if not any(rule.admits(scheme, host, parts.port) for rule in rules):
        raise NotAllowed(f"{scheme}://{host} is not an allowed store: add it to IMAGEGEN_STORE_HOSTS "
                         "(the configured IMAGEGEN_STORE_API_URL is allowed by default).")
    return await fetch_store_agents(base_url.strip(), page_size=page_size, attempts=ws.settings.provider_attempts,
                                    retry_max_wait=ws.settings.retry_max_wait)


async def fetch_store_agents(base_url: str, *, page_size: int = 50, max_pages: int = 200, timeout: float = 20.0,
                             attempts: int = 3, retry_max_wait: float = 5.0, transport=None) -> StoreFetch:
    """Every page of `GET {base}/api/store/agents?page=N&page_size=M`; a failing page is reported, not fatal."""
    result = StoreFetch()
    async with build_client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport) as client:
        page, total_pages = 1, 1
        while page <= min(total_pages, max_pages):
            try:
                async for attempt in retrying(attempts, retry_max_wait):
                    with attempt:
                        try:
                            response = await client.get("/api/store/agents", params={"page": page, "page_size": page_size})
                        except httpx.HTTPError as exc:
                            raise ProviderUnavailable(f"could not reach the store ({type(exc).__name__})") from None
                        if response.status_code >= 500 or response.status_code == 429:
                            raise ProviderUnavailable(f"the store answered HTTP {response.status_code}", status_code=response.status_code)
                        if response.status_code != 200:
                            raise ProviderError(f"the store answered HTTP {response.status_code}", status_code=response.status_code)
                body = response.json()
                agents, pagination = body.get("agents"), body.get("pagination") or {}
                if not isinstance(agents, list):
                    raise ProviderError("the answer has no list of agents")
                result.rows.extend(a for a in agents if isinstance(a, dict))
                total_pages = int(pagination.get("total_pages") or total_pages)
            except (ProviderError, ValueError) as exc:
                if page == 1:  # nothing has shown it is a store yet: say no more than that
                    result.errors.append(f"page 1: {NO_STORE_THERE}")
                    break
                result.errors.append(f"page {page}: {exc}")
            page += 1
    return result


def _first_image(value) -> str:
    """The store's current image for a row: the first https URL of `agent_image` (a list, or
    a list as JSON text in a CSV), else ""."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return ""
    urls = value if isinstance(value, list) else [value]
    return next((u for u in urls if isinstance(u, str) and u.startswith("https://")), "")


def _text_of(row: dict, *names: str) -> str:
    value = next((row[n] for n in names if row.get(n) not in (None, "")), "")
    return str(value).strip()


def preview_import(session: Session, rows: list[dict]) -> list[dict]:
    """What an import would do, row by row: add, update, or the error that skips it, with what
    a curator needs to recognise the agent (name, sub-heading, categories, the store's image)."""
    wanted = list({str(r.get("slug", "")).strip().lower() for r in rows})
    slugs = {slug for i in range(0, len(wanted), IMPORT_BATCH)
             for slug in session.scalars(select(Agent.slug).where(Agent.slug.in_(wanted[i : i + IMPORT_BATCH])))}
    preview, seen = [], set()
    for number, row in enumerate(rows, start=1):
        shown = {"image": _first_image(row.get("agent_image"))}
        try:
            item = AgentIn(**row)
        except ValidationError as exc:
            err = exc.errors()[0]
            preview.append({"row": number, "slug": _text_of(row, "slug"), "name": _text_of(row, "agent_name", "name") or "(no name)",
                            "sub_heading": _text_of(row, "sub_heading"), "categories": "", **shown,
                            "action": "skip", "error": f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"})
            continue
        action = "update" if item.slug in slugs else "add"
        if item.slug in seen:
            action = "duplicate (last one wins)"
        seen.add(item.slug)
        preview.append({"row": number, "slug": item.slug, "name": item.name, "sub_heading": item.sub_heading,
                        "categories": ", ".join(item.categories), **shown, "action": action, "error": ""})
    return preview


def update_agent_text(session: Session, slug: str, *, name: str, sub_heading: str, description: str, categories: list[str],
                      actor: Actor) -> Agent:
    require(actor, "edit_catalog")
    agent = session.scalar(select(Agent).where(Agent.slug == slug))
    if agent is None:
        raise InvalidInput(f"No agent with slug {slug!r}.")
    try:
        item = AgentIn(slug=slug, name=name, sub_heading=sub_heading, description=description, categories=categories)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    agent.name, agent.sub_heading, agent.description, agent.categories = item.name, item.sub_heading, item.description, item.categories
    agent.updated_at = utcnow()
    session.flush()
    refresh_categories(session)
    return agent
