"""What a curator reviews: the studio's own boards, other runs, star/reject with a note,
remembered recipes, short titles, the curator's own images and store-card neighbours.

Everything here is a plain function over the workspace, so pages stay free of SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from imagegen.auth import Actor, local_admin, require
from imagegen.errors import InvalidInput, NotFound
from imagegen.images import check_image
from imagegen.listings import agent_query
from imagegen.prompts import clean_text
from imagegen.records import (
    Agent,
    Approval,
    Candidate,
    CandidateStatus,
    Generation,
    GenerationSource,
    GenerationSpec,
    GenerationStatus,
    Verdict,
    utcnow,
)

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

MAX_NOTE = 500
UPLOADED = "uploaded"  # the recipe option naming the curator's own file
MAX_SHORT_TITLE = 40


# --- boards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One generation as a board the curator can open."""

    id: int
    source: GenerationSource
    created_at: datetime
    count: int
    provider: str

    @property
    def label(self) -> str:
        # The generation's number, said as one: "experiment #11" read as experiment 11, which was #1.
        origin = {GenerationSource.BATCH: "a batch", GenerationSource.EXPERIMENT: "an experiment"}.get(self.source, self.source.value.upper())
        return f"Generation #{self.id} from {origin} · {self.count} × {self.provider} · {self.created_at:%d %b %H:%M}"


def studio_board(ws: "Workspace", slug: str) -> int | None:
    """The board of the newest generation the studio itself asked for (a reroll or the curator's
    own image makes the board it joined the newest): a batch, an experiment cell or a CLI run
    never replaces the curator's candidates."""
    with ws.session() as s:
        agent = ws.get_agent(slug, session=s)
        return s.scalar(
            select(func.coalesce(Generation.board_id, Generation.id))
            .where(Generation.agent_id == agent.id, Generation.source == GenerationSource.STUDIO)
            .order_by(Generation.id.desc()).limit(1)
        )


def board_candidates(ws: "Workspace", generation_id: int) -> tuple[int, list[int]]:
    """The board a generation is on, and its candidates in order: the first generation's, each
    reroll in place of the card it replaced, each upscale and own image after them."""
    with ws.session() as s:
        gen = s.get(Generation, generation_id)
        if gen is None:
            raise NotFound(f"No generation {generation_id}.")
        board = gen.board_id or gen.id
        ids: list[int] = []
        for part in s.scalars(select(Generation).where(or_(Generation.id == board, Generation.board_id == board)).order_by(Generation.id)):
            new = [c.id for c in part.candidates]
            if part.replaces_id in ids:
                at = ids.index(part.replaces_id)
                ids[at:at + 1] = new
            else:
                ids += new
        return board, ids


def other_runs(ws: "Workspace", slug: str, limit: int = 10) -> list[Run]:
    """The newest generations for the agent from elsewhere (batch, experiment, CLI)."""
    with ws.session() as s:
        agent = ws.get_agent(slug, session=s)
        gens = s.scalars(
            select(Generation)
            .where(Generation.agent_id == agent.id, Generation.source != GenerationSource.STUDIO)
            .order_by(Generation.id.desc()).limit(limit)
        ).all()
        return [Run(g.id, g.source, g.created_at, len(g.candidates), g.recipe.provider) for g in gens]


def generation_of_agent(ws: "Workspace", slug: str, generation_id: int) -> Generation:
    """A generation only if it belongs to the agent (a shared link with a wrong pair opens nothing)."""
    gen = ws.get_generation(generation_id)
    if gen.agent.slug != slug:
        raise NotFound(f"Generation {generation_id} is not one of {slug}'s.")
    return gen


# --- star and reject ----------------------------------------------------------------------


def set_verdict(ws: "Workspace", candidate_id: int, verdict: Verdict | None, note: str | None = None, *,
                actor: Actor | None = None) -> Candidate:
    """Star or reject a candidate (None clears it); the note is kept with it."""
    require(actor or local_admin(ws.settings), "approve")
    note = clean_text(note, MAX_NOTE) or None
    with ws.session() as s, s.begin():
        cand = s.get(Candidate, candidate_id)
        if cand is None:
            raise NotFound(f"No candidate {candidate_id}.")
        cand.verdict, cand.review_note = verdict, note
    return ws.get_candidate(candidate_id)


# --- the agent's own settings ---------------------------------------------------------------


def remember_recipe(ws: "Workspace", slug: str, recipe: dict) -> None:
    """Keep the recipe the curator last used for an agent, so another session starts from it."""
    with ws.session() as s, s.begin():
        agent = ws.get_agent(slug, session=s)
        if agent.last_recipe != recipe:
            agent.last_recipe = recipe


def remembered_recipe(ws: "Workspace", slug: str) -> dict | None:
    return ws.get_agent(slug).last_recipe


def set_short_title(ws: "Workspace", slug: str, title: str, *, actor: Actor | None = None) -> str:
    """The name drawn into images instead of a long one; empty means the agent's name."""
    require(actor or local_admin(ws.settings), "generate")
    title = clean_text(title, 200)
    if len(title) > MAX_SHORT_TITLE:
        raise InvalidInput(f"A short title is at most {MAX_SHORT_TITLE} characters; this one has {len(title)}.")
    with ws.session() as s, s.begin():
        ws.get_agent(slug, session=s).short_title = title
    return title


def approved_candidates(ws: "Workspace", candidate_ids: list[int]) -> dict[int, bool]:
    """Which of these candidates were ever approved, each with whether it is its agent's
    current thumbnail (a later approval replaced the others): one query, for review grids.

    Current is the agent's newest approval, if its upload is still the thumbnail: two approvals
    of the same bytes (a redraw from the same seed) upload the same file, and only one is current."""
    if not candidate_ids:
        return {}
    approved: dict[int, bool] = {}
    other = aliased(Approval)
    newest = select(func.max(other.id)).where(other.agent_id == Approval.agent_id).scalar_subquery()
    with ws.session() as s:
        rows = s.execute(select(Approval.candidate_id, and_(Approval.id == newest, Approval.upload_key == Agent.current_thumbnail))
                         .join(Agent, Agent.id == Approval.agent_id).where(Approval.candidate_id.in_(candidate_ids)))
        for candidate_id, current in rows:
            approved[candidate_id] = approved.get(candidate_id, False) or bool(current)
    return approved


def store_neighbours(ws: "Workspace", slug: str, limit: int = 3) -> list[Agent]:
    """Agents a shopper would see beside this one: others with a thumbnail, from the same
    category first, for the store-card preview."""
    agent = ws.get_agent(slug)
    with ws.session() as s:
        def others(**filters):
            query = agent_query(dialect=s.get_bind().dialect.name, with_thumbnail=True, **filters)
            return query.where(Agent.slug != slug)

        found = list(s.scalars(others(any_category=agent.categories).limit(limit))) if agent.categories else []
        if len(found) < limit:
            seen = {a.slug for a in found}
            found += [a for a in s.scalars(others().limit(limit * 2)) if a.slug not in seen][: limit - len(found)]
        return found


def add_own_image(ws: "Workspace", slug: str, data: bytes, filename: str, *, board: int | None = None,
                  actor: Actor | None = None) -> int:
    """The curator's own file as a candidate, checked like provider bytes (magic bytes, size and
    pixel limits, a full decode) and stored the same way; returns the candidate id. It joins
    `board` (a generation of the agent's) when given, else it is a board of its own. Its recipe
    says it was uploaded, so it is never rerolled as if a provider had made it."""
    require(actor or local_admin(ws.settings), "generate")
    checked = check_image(data, max_bytes=ws.settings.max_image_bytes, max_pixels=ws.settings.max_image_pixels)
    key = ws.media.put(checked.data, checked.format)
    name = clean_text(filename, 120) or "an image"
    spec = GenerationSpec(provider="local", template="own image", prompt=f"Uploaded by the curator: {name}", count=1,
                          options={UPLOADED: name})
    with ws.session() as s, s.begin():
        agent = ws.get_agent(slug, session=s)
        if board is not None:
            joined = s.get(Generation, board)
            if joined is None or joined.agent_id != agent.id:
                raise NotFound(f"Generation {board} is not one of {slug}'s.")
            board = joined.board_id or joined.id
        gen = Generation(agent_id=agent.id, spec=spec.model_dump(mode="json"), source=GenerationSource.STUDIO,
                         status=GenerationStatus.SUCCEEDED, started_at=utcnow(), finished_at=utcnow(), board_id=board)
        s.add(gen)
        s.flush()
        cand = Candidate(generation_id=gen.id, position=0, status=CandidateStatus.SUCCEEDED, image_key=key,
                         width=checked.width, height=checked.height, finished_at=utcnow())
        s.add(cand)
        s.flush()
        return cand.id


def is_upload(spec: GenerationSpec) -> bool:
    return UPLOADED in spec.options
