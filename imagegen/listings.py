"""What the pages list, one page at a time: filtering, ordering, paging and counting are done
in SQL, so a rerun costs the same few statements with 100 agents or 100,000.

Every function takes an open session and returns a `Page`: the rows asked for, and how many
match (for "1-50 of 3,412" or "1-50 of 10,000+", and the next/previous buttons).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Generic, Sequence, TypeVar

from sqlalchemy import Select, Text, and_, cast, column, exists, func, or_, select, table
from sqlalchemy.orm import Session, raiseload

from imagegen.errors import InvalidInput
from imagegen.records import (
    Agent, Approval, Batch, BatchItem, BatchItemStatus, Candidate, CandidateStatus, Category, Generation, Verdict,
)

T = TypeVar("T")
MAX_PAGE = 200  # a page never holds more rows than this, whatever a caller asks
COUNT_AHEAD = 10_000  # matches are counted exactly up to this many rows past the page's start


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int  # rows matching the filters; a lower bound when `total_exact` is false
    offset: int
    limit: int
    total_exact: bool = True

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


def paged(session: Session, stmt: Select, *, offset: int = 0, limit: int = 50) -> Page:
    """Two statements: the count of the matches, then one page of them.

    Counting stops COUNT_AHEAD rows past the page: an exact count(*) reads every matching
    row (on PostgreSQL, 100,000 agents cost more than everything else on the page), while
    "10,000+ agents" is as useful to a curator and costs the same at any catalog size."""
    offset, limit = max(0, int(offset)), min(max(1, int(limit)), MAX_PAGE)
    horizon = offset + COUNT_AHEAD
    # Only the first column (the id) is counted, so the database may read an index, not the rows.
    ids = stmt.order_by(None).with_only_columns(stmt.selected_columns[0]).limit(horizon + 1)
    counted = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    items = list(session.scalars(stmt.offset(offset).limit(limit)).unique())
    return Page(items, min(counted, horizon), offset, limit, total_exact=counted <= horizon)


# --- agents: the studio picker, the catalog, the showcase ---------------------------------


def in_category(category: str, dialect: str):
    """Agents that list this category, as written, on both databases (LIKE ignored ASCII case
    on SQLite only). An element of the JSON list must equal it, so "ai" matches neither "AI"
    nor "fair" nor 'x"ai'. The quoted name's position in the list's text (kept as written by
    both databases) is checked first: a cheap scan that leaves the JSON parse to the few rows
    that may match (12 ms instead of 36 to count a category's 6,300 of 100,000 agents on SQLite)."""
    quoted = json.dumps(category)
    if dialect == "sqlite":
        near = func.instr(cast(Agent.categories, Text), quoted) > 0
        items = func.json_each(Agent.categories).table_valued("value")
    else:
        near = func.strpos(cast(Agent.categories, Text), quoted) > 0
        items = func.json_array_elements_text(Agent.categories).table_valued("value")
    return and_(near, exists(select(items.c.value).where(items.c.value == category)))


# The search index the migration 0008 builds (SQLite: an FTS5 trigram table; PostgreSQL: a
# pg_trgm GIN index on the expressions below). Alembic is told to leave these alone.
SEARCH_TABLE = "agents_search"
SEARCH_SCHEMA = frozenset({SEARCH_TABLE, *(f"{SEARCH_TABLE}_{part}" for part in ("data", "idx", "docsize", "config")),
                           "ix_agents_search"})
_fts = table(SEARCH_TABLE, column("rowid"), column(SEARCH_TABLE))
TRIGRAM = 3  # the shortest needle a trigram index can look up


def include_in_autogenerate(name, _type, _parents) -> bool:
    """Alembic's `include_name`: the search index is written by hand in its migration, not
    declared on the models, so comparing the schema with the models leaves it out."""
    return name not in SEARCH_SCHEMA


def _mentions(needle: str, dialect: str):
    """Agents whose name, slug or categories contain `needle` (already lower-case), any case.

    Both backends answer from their trigram index, with the same results: a substring match,
    case-insensitive, inside one field (never across name and slug)."""
    if dialect == "sqlite" and len(needle) >= TRIGRAM:
        # An FTS5 phrase of trigrams is a substring match; inside quotes only `"` is special.
        phrase = '"' + needle.replace('"', '""') + '"'
        return Agent.id.in_(select(_fts.c.rowid).where(_fts.c[SEARCH_TABLE].match(phrase)))
    # PostgreSQL's pg_trgm reads these very expressions from its index (a needle shorter than a
    # trigram is a scan on both backends; it matches so many agents that the first page comes fast).
    return or_(
        func.lower(Agent.name).contains(needle, autoescape=True),
        Agent.slug.contains(needle, autoescape=True),
        func.lower(cast(Agent.categories, Text)).contains(needle, autoescape=True),
    )


def agent_query(
    query: str = "", *, dialect: str, category: str | None = None, any_category: Sequence[str] = (),
    only_missing: bool = False, with_thumbnail: bool = False,
) -> Select:
    """Agents whose name, slug or categories contain `query` (any case), by name; in `category`
    and in any of `any_category` when given. `dialect` is the session's
    (`session.get_bind().dialect.name`): each backend has its own search index."""
    stmt = select(Agent).order_by(Agent.name, Agent.id)
    needle = query.strip().lower()
    if needle:
        stmt = stmt.where(_mentions(needle, dialect))
    if category:
        stmt = stmt.where(in_category(category, dialect))
    if any_category:
        stmt = stmt.where(or_(*(in_category(c, dialect) for c in any_category)))
    if only_missing:
        stmt = stmt.where(Agent.current_thumbnail.is_(None))
    if with_thumbnail:
        stmt = stmt.where(Agent.current_thumbnail.is_not(None))
    return stmt


def search_agents(
    session: Session, query: str = "", *, category: str | None = None, any_category: Sequence[str] = (),
    only_missing: bool = False, with_thumbnail: bool = False, offset: int = 0, limit: int = 50,
) -> Page[Agent]:
    """One page of `agent_query`: what the agent pickers, the catalog and the showcase show."""
    stmt = agent_query(query, dialect=session.get_bind().dialect.name, category=category, any_category=any_category,
                       only_missing=only_missing, with_thumbnail=with_thumbnail)
    return paged(session, stmt, offset=offset, limit=limit)


def agents_named(session: Session, slugs: Sequence[str]) -> dict[str, str]:
    """slug -> name for the agents a picker already holds (one statement), so they stay listed
    beside a page of search results."""
    if not slugs:
        return {}
    return dict(session.execute(select(Agent.slug, Agent.name).where(Agent.slug.in_(list(slugs)))).all())


def category_names(session: Session) -> list[str]:
    """Every category in use, sorted (kept by `catalog.refresh_categories` when agents change)."""
    return list(session.scalars(select(Category.name).order_by(Category.name)))


# --- history ------------------------------------------------------------------------------


REVIEWS = ("starred", "rejected", "not rejected")  # History's Review filter, besides "any"


def history_page(
    session: Session, agent_id: int, *, provider: str | None = None, status: CandidateStatus | None = None,
    review: str | None = None, approved_only: bool = False, offset: int = 0, limit: int = 20,
) -> Page[Generation]:
    """An agent's generations, newest first, with their candidates (three statements). A
    generation matches `review` when one of its candidates does (one of REVIEWS)."""
    stmt = select(Generation).where(Generation.agent_id == agent_id).order_by(Generation.id.desc())
    if provider:
        stmt = stmt.where(Generation.spec["provider"].as_string() == provider)
    if status:
        stmt = stmt.where(Generation.candidates.any(Candidate.status == status))
    if review == "not rejected":
        stmt = stmt.where(Generation.candidates.any(or_(Candidate.verdict.is_(None), Candidate.verdict != Verdict.REJECTED)))
    elif review:
        stmt = stmt.where(Generation.candidates.any(Candidate.verdict == Verdict(review)))
    if approved_only:
        approved = select(Approval.id).join(Candidate, Candidate.id == Approval.candidate_id)
        stmt = stmt.where(exists(approved.where(Candidate.generation_id == Generation.id)))
    return paged(session, stmt, offset=offset, limit=limit)


def approvals_page(session: Session, agent_id: int, *, offset: int = 0, limit: int = 20) -> Page[Approval]:
    stmt = select(Approval).where(Approval.agent_id == agent_id).order_by(Approval.id.desc())
    return paged(session, stmt, offset=offset, limit=limit)


# --- batches ------------------------------------------------------------------------------


@dataclass
class BatchSummary:
    batch: Batch
    counts: dict[str, int] = field(default_factory=dict)  # item status -> how many

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return self.total - self.counts.get(BatchItemStatus.PENDING.value, 0)


def _item_counts(session: Session, batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """batch id -> item status -> how many, in one grouped statement."""
    counts: dict[int, dict[str, int]] = {b: {} for b in batch_ids}
    if counts:
        grouped = (select(BatchItem.batch_id, BatchItem.status, func.count())
                   .where(BatchItem.batch_id.in_(list(counts))).group_by(BatchItem.batch_id, BatchItem.status))
        for batch_id, status, n in session.execute(grouped):
            counts[batch_id][status.value] = n
    return counts


def batches_page(session: Session, *, offset: int = 0, limit: int = 20) -> Page[BatchSummary]:
    """Batches, newest first, each with its progress counted in SQL (its items are not loaded)."""
    page = paged(session, select(Batch).options(raiseload(Batch.items)).order_by(Batch.id.desc()), offset=offset, limit=limit)
    counts = _item_counts(session, [b.id for b in page.items])
    return Page([BatchSummary(b, counts[b.id]) for b in page.items], page.total, page.offset, page.limit, page.total_exact)


def batch_summary(session: Session, batch_id: int) -> BatchSummary | None:
    """One batch's status and progress (two statements, its items are not loaded); None if there is no such batch."""
    batch = session.scalar(select(Batch).options(raiseload(Batch.items)).where(Batch.id == batch_id))
    return BatchSummary(batch, _item_counts(session, [batch_id])[batch_id]) if batch else None


BATCH_REVIEWS = ("unreviewed", "reviewed", "starred")  # the Batch page's Show filter, besides all


def _item_reviewed(starred_only: bool = False):
    """The item's generation has a candidate with a verdict (STARRED when `starred_only`) or an approval."""
    mark = Candidate.verdict == Verdict.STARRED if starred_only else or_(
        Candidate.verdict.is_not(None), exists(select(Approval.id).where(Approval.candidate_id == Candidate.id)))
    return exists(select(Candidate.id).where(Candidate.generation_id == BatchItem.generation_id, mark))


def batch_items_page(
    session: Session, batch_id: int, *, review: str | None = None, offset: int = 0, limit: int = 20,
) -> Page[tuple[BatchItem, Generation | None]]:
    """A batch's items in order, each with its agent and its generation's candidates (four
    statements). `review` (one of BATCH_REVIEWS) keeps the items whose agent is unreviewed,
    reviewed (a candidate approved or given a verdict) or starred; it is applied before paging."""
    stmt = select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(BatchItem.id)
    if review == "unreviewed":
        stmt = stmt.where(~_item_reviewed())
    elif review == "reviewed":
        stmt = stmt.where(_item_reviewed())
    elif review == "starred":
        stmt = stmt.where(_item_reviewed(starred_only=True))
    elif review is not None:
        raise InvalidInput(f"Show all agents or the {', '.join(BATCH_REVIEWS)} ones, not {review!r}.")
    page = paged(session, stmt, offset=offset, limit=limit)
    ids = [i.generation_id for i in page.items if i.generation_id]
    gens = {g.id: g for g in session.scalars(select(Generation).where(Generation.id.in_(ids)))} if ids else {}
    return Page([(i, gens.get(i.generation_id)) for i in page.items], page.total, page.offset, page.limit, page.total_exact)
