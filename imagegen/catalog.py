"""The agent catalog: sample agents; imports from store exports (CSV), JSON lists or the store API; edits."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from imagegen.errors import InvalidInput, ProviderError, ProviderUnavailable
from imagegen.providers.http import build_client, retrying
from imagegen.records import Agent, utcnow

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
    errors: list[str] = field(default_factory=list)  # "row N: what was wrong"


def read_catalog_file(path: Path) -> list[dict]:
    """Rows of a store-export CSV or of a JSON list of agents."""
    path = Path(path)
    try:
        return parse_catalog(path.read_bytes(), path.name)
    except FileNotFoundError:
        raise InvalidInput(f"No such file: {path}") from None


def parse_catalog(data: bytes, name: str) -> list[dict]:
    """Rows from the bytes of a store-export CSV or a JSON list (`name` is only for messages)."""
    path = Path(name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text.") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
        if isinstance(rows, dict) and isinstance(rows.get("agents"), list):
            rows = rows["agents"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidInput(f"{path} must hold a JSON list of agent objects.")
        return rows
    reader = csv.DictReader(text.splitlines(keepends=True))
    if not reader.fieldnames or "slug" not in reader.fieldnames:
        raise InvalidInput(f"{path} has no 'slug' column; expected the store export's columns (slug, agent_name, sub_heading, description, categories).")
    return list(reader)


def import_agents(session: Session, rows: list[dict]) -> ImportReport:
    """Add new agents and update existing ones by slug; a bad row is reported, not fatal."""
    report = ImportReport()
    seen: dict[str, AgentIn] = {}
    for number, row in enumerate(rows, start=1):
        try:
            item = AgentIn(**row)
        except ValidationError as exc:
            err = exc.errors()[0]
            report.errors.append(f"row {number}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
            continue
        seen[item.slug] = item  # a later row with the same slug wins
    existing = {a.slug: a for a in session.scalars(select(Agent).where(Agent.slug.in_(list(seen))))}
    for slug, item in seen.items():
        values = item.model_dump(exclude={"slug"})
        if slug in existing:
            agent = existing[slug]
            for key, value in values.items():
                setattr(agent, key, value)
            agent.updated_at = utcnow()
            report.updated += 1
        else:
            session.add(Agent(slug=slug, **values))
            report.added += 1
    return report


def load_sample_agents(session: Session) -> ImportReport:
    return import_agents(session, json.loads(SAMPLES.read_text(encoding="utf-8")))


def find_agents(session: Session, query: str = "", *, only_missing: bool = False, category: str | None = None) -> list[Agent]:
    """Agents whose name, slug or category contains `query` (any case), sorted by name."""
    stmt = select(Agent).order_by(Agent.name)
    if only_missing:
        stmt = stmt.where(Agent.current_thumbnail.is_(None))
    needle = query.strip().casefold()
    agents = session.scalars(stmt).all()
    return [
        a
        for a in agents
        if (not needle or needle in a.name.casefold() or needle in a.slug or any(needle in c.casefold() for c in a.categories))
        and (not category or category in a.categories)
    ]


def all_categories(session: Session) -> list[str]:
    return sorted({c for cats in session.scalars(select(Agent.categories)) for c in cats})


@dataclass
class StoreFetch:
    rows: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "page N: what went wrong"


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
    slugs = set(session.scalars(select(Agent.slug)))
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


def update_agent_text(session: Session, slug: str, *, name: str, sub_heading: str, description: str, categories: list[str]) -> Agent:
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
    return agent
