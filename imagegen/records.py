"""Records: the recipe (pydantic values) and what is persisted (SQLAlchemy rows).

A GenerationSpec is the whole recipe and is stored as JSON on its Generation, so any
generation can be reproduced or reloaded into the studio. Status values and the
transitions allowed between them live here and nowhere else.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import JSON, Boolean, DateTime, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from imagegen.errors import InvalidInput

HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
ASPECT_RATIOS = (
    "1x3", "3x1", "1x2", "2x1", "9x16", "16x9", "10x16", "16x10",
    "2x3", "3x2", "3x4", "4x3", "4x5", "5x4", "1x1",
)  # Ideogram 3.0's set, which every provider maps from.
MAX_SEED = 2_147_483_647
MAX_CANDIDATES = 8


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- the recipe -------------------------------------------------------------------------


class PaletteColor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hex: str
    weight: float = Field(1.0, ge=0.05, le=1.0)

    @field_validator("hex")
    @classmethod
    def _hex(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("#"):
            value = "#" + value
        if not HEX_COLOUR.match(value):
            raise ValueError(f"{value!r} is not a colour: write it as #RRGGBB or #RGB")
        if len(value) == 4:
            value = "#" + "".join(c * 2 for c in value[1:])
        return value.upper()

    @property
    def rgb(self) -> tuple[int, int, int]:
        return tuple(int(self.hex[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


class Palette(BaseModel):
    """A named preset (sent to Ideogram by name) or custom colours, always with colours for local rendering."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    ideogram_preset: str | None = None
    colors: tuple[PaletteColor, ...] = Field(min_length=1, max_length=8)


class GenerationSpec(BaseModel):
    """The full recipe of one generation: everything needed to reproduce it."""

    model_config = ConfigDict(extra="forbid")

    provider: str = "local"
    model: str | None = None
    template: str = "pop-art"
    prompt: str = Field(min_length=1, max_length=10_000)
    negative_prompt: str | None = Field(None, max_length=10_000)
    palette: Palette | None = None
    aspect_ratio: str = "16x9"
    style: str | None = None
    magic_prompt: str | None = None
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    count: int = Field(4, ge=1, le=MAX_CANDIDATES)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("aspect_ratio")
    @classmethod
    def _aspect(cls, value: str) -> str:
        value = value.replace(":", "x").strip()
        if value not in ASPECT_RATIOS:
            raise ValueError(f"aspect ratio {value!r} is not one of {', '.join(ASPECT_RATIOS)}")
        return value

    @model_validator(mode="after")
    def _prompt_not_blank(self) -> "GenerationSpec":
        if not self.prompt.strip():
            raise ValueError("the prompt is empty")
        return self


def aspect_size(aspect_ratio: str, long_side: int = 1280) -> tuple[int, int]:
    """Pixel size for a ratio such as '16x9', the long side fixed, both sides multiples of 8."""
    w, h = (int(p) for p in aspect_ratio.split("x"))
    if w >= h:
        return long_side, max(8, round(long_side * h / w / 8) * 8)
    return max(8, round(long_side * w / h / 8) * 8), long_side


# --- statuses ---------------------------------------------------------------------------


class _Status(str, enum.Enum):
    """A status that knows where it may go next: `NEXT` below is the whole state machine."""

    @property
    def finished(self) -> bool:
        return self in _FINAL[type(self)]

    def can_become(self, new: "_Status") -> bool:
        return new in NEXT[type(self)].get(self, ())


class GenerationStatus(_Status):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every candidate ended (some may be failed or blocked)
    FAILED = "failed"  # no candidate produced an image
    CANCELED = "canceled"
    INTERRUPTED = "interrupted"  # its runner's lease expired while it ran


class CandidateStatus(_Status):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"  # the provider's safety filter withheld the image
    CANCELED = "canceled"
    INTERRUPTED = "interrupted"



class GenerationSource(str, enum.Enum):
    """Where a generation was asked for: the studio shows only the curator's own boards."""

    STUDIO = "studio"
    BATCH = "batch"
    EXPERIMENT = "experiment"
    CLI = "cli"


class Verdict(str, enum.Enum):
    """A reviewer's mark on a candidate, kept with it in history."""

    STARRED = "starred"
    REJECTED = "rejected"


class BatchStatus(_Status):
    RUNNING = "running"
    PAUSED = "paused"  # stopped by the curator or by an expired lease; resumable
    CANCELED = "canceled"
    DONE = "done"


class PublishStatus(str, enum.Enum):
    PENDING = "pending"  # recorded with the approval, not yet sent
    PUBLISHED = "published"
    FAILED = "failed"  # Retry sends it again
    NEEDS_SUBMISSION = "needs a new store submission"  # an APPROVED store listing cannot be edited

    @property
    def retryable(self) -> bool:
        return self in (PublishStatus.PENDING, PublishStatus.FAILED)


class BatchItemStatus(_Status):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


G, C, B, I = GenerationStatus, CandidateStatus, BatchStatus, BatchItemStatus
# Statuses move forward. Only `interrupted` goes back to `queued` (a resumed job), and a paused
# batch back to running. Every other ending is final.
NEXT: dict[type, dict[enum.Enum, frozenset]] = {
    G: {
        G.QUEUED: frozenset({G.RUNNING, G.FAILED, G.CANCELED, G.INTERRUPTED}),
        G.RUNNING: frozenset({G.SUCCEEDED, G.FAILED, G.CANCELED, G.INTERRUPTED}),
        G.INTERRUPTED: frozenset({G.QUEUED}),
    },
    C: {
        C.QUEUED: frozenset({C.RUNNING, C.FAILED, C.BLOCKED, C.CANCELED, C.INTERRUPTED}),
        C.RUNNING: frozenset({C.SUCCEEDED, C.FAILED, C.BLOCKED, C.CANCELED, C.INTERRUPTED}),
        C.INTERRUPTED: frozenset({C.QUEUED}),
    },
    B: {
        B.RUNNING: frozenset({B.PAUSED, B.CANCELED, B.DONE}),
        B.PAUSED: frozenset({B.RUNNING, B.CANCELED}),
    },
    I: {I.PENDING: frozenset({I.DONE, I.FAILED})},
}
_FINAL = {
    G: frozenset({G.SUCCEEDED, G.FAILED, G.CANCELED, G.INTERRUPTED}),
    C: frozenset({C.SUCCEEDED, C.FAILED, C.BLOCKED, C.CANCELED, C.INTERRUPTED}),
    B: frozenset({B.CANCELED, B.DONE}),
    I: frozenset({I.DONE, I.FAILED}),
}
del G, C, B, I


def transition(row: Any, new: _Status) -> None:
    """The one way any status changes: refuses a move the state machine does not allow."""
    if not row.status.can_become(new):
        raise InvalidInput(f"cannot move {type(row).__name__.lower()} {row.id} from {row.status.value} to {new.value}")
    row.status = new


# --- rows -------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(300))
    sub_heading: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    current_thumbnail: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The store's own image URL, kept from the import; only the curator's browser loads it.
    store_image_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    short_title: Mapped[str] = mapped_column(String(120), default="", server_default="")  # drawn instead of a long name
    last_recipe: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # the studio's recipe the curator last used
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PromptTemplate(Base):
    __tablename__ = "prompt_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Generation(Base):
    __tablename__ = "generations"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    spec: Mapped[dict] = mapped_column(JSON)
    status: Mapped[GenerationStatus] = mapped_column(
        Enum(GenerationStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=GenerationStatus.QUEUED,
    )
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Ownership: the runner holding the lease renews it while it works; only an expired lease is recovered.
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)  # the estimate, held until cost_usd is known
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiments.id"), nullable=True, index=True)
    cell: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # the experiment axis values of this generation
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[GenerationSource] = mapped_column(
        Enum(GenerationSource, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=GenerationSource.STUDIO, server_default=GenerationSource.STUDIO.value, index=True,
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When its spend and reservation count against the daily budget: made, or last resumed.
    charged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=True, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # A reroll, an upscale or the curator's own image joins the board (a generation) it was made
    # on, the reroll in place of the candidate it replaces; see imagegen.review.board_candidates.
    board_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    replaces_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    agent: Mapped[Agent] = relationship(lazy="joined")
    candidates: Mapped[list["Candidate"]] = relationship(
        back_populates="generation", order_by="Candidate.position", lazy="selectin"
    )

    @property
    def recipe(self) -> GenerationSpec:
        return GenerationSpec.model_validate(self.spec)


class Candidate(Base):
    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[CandidateStatus] = mapped_column(
        Enum(CandidateStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=CandidateStatus.QUEUED,
    )
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    image_key: Mapped[str | None] = mapped_column(String(300), nullable=True)  # set once the image is stored
    # The key, recorded before the file is written: recovery adopts a stored image instead of paying again.
    pending_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    format: Mapped[str | None] = mapped_column(String(10), nullable=True)  # PNG, JPEG or WEBP
    byte_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    verdict: Mapped[Verdict | None] = mapped_column(
        Enum(Verdict, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]), nullable=True
    )
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    generation: Mapped[Generation] = relationship(back_populates="candidates")


class Approval(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)  # "is this one approved?"
    approved_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    upload_key: Mapped[str] = mapped_column(String(300))
    previous_thumbnail: Mapped[str | None] = mapped_column(String(300), nullable=True)
    spec: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # e.g. "revert to approval #3"
    # The upload's, recorded as it is made (None for approvals made before 0013): never decoded to tell.
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    format: Mapped[str | None] = mapped_column(String(10), nullable=True)  # PNG, JPEG or WEBP
    byte_size: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def size_label(self) -> str:
        """'1280x720 PNG, 412 kB', or '' where it was not recorded."""
        if self.width is None or self.byte_size is None:
            return ""
        size = f"{self.byte_size / 1000:,.0f} kB" if self.byte_size >= 1000 else f"{self.byte_size} bytes"
        return f"{self.width}x{self.height} {self.format}, {size}"


def _status(enum_cls):
    return Enum(enum_cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


def _status_wide(enum_cls):
    return Enum(enum_cls, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e])


class Experiment(Base):
    """Agents x axes (templates, palettes, providers or models, seeds); every recipe is kept."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agent_slugs: Mapped[list[str]] = mapped_column(JSON)
    axes: Mapped[dict] = mapped_column(JSON)  # axis name -> list of values
    base: Mapped[dict] = mapped_column(JSON)  # the choices every cell starts from
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    selection: Mapped[dict] = mapped_column(JSON)  # how the agents were chosen, for the record
    choices: Mapped[dict] = mapped_column(JSON)  # the one recipe, rendered per agent
    status: Mapped[BatchStatus] = mapped_column(_status(BatchStatus), default=BatchStatus.RUNNING)
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    # Paused by the spent budget, not by a person: its jobs that already reserved their share go on.
    budget_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    # Never loaded with the batch: a batch can hold 100,000 items. Read them by page (listings) or in
    # one query (`batch_generations`); touching `batch.items` raises rather than loading them all.
    items: Mapped[list["BatchItem"]] = relationship(back_populates="batch", order_by="BatchItem.id", lazy="raise")


class BatchItem(Base):
    __tablename__ = "batch_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"), nullable=True)
    status: Mapped[BatchItemStatus] = mapped_column(_status(BatchItemStatus), default=BatchItemStatus.PENDING)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Set in the approval's own transaction: a resumed batch never approves this item twice.
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"), nullable=True)

    batch: Mapped[Batch] = relationship(back_populates="items")
    agent: Mapped[Agent] = relationship(lazy="joined")


# --- what keeps the listings fast at 100,000 agents ------------------------------------

# The agent picker orders by name and pages: with this index it reads one page, not the table.
Index("ix_agents_name_id", Agent.name, Agent.id)
# Each job of a batch fanned out to workers asks whether anything is still pending: one lookup.
Index("ix_batch_items_batch_status", BatchItem.batch_id, BatchItem.status)


class Category(Base):
    """Every category in use, kept by the catalog's writes (import, edit), so listing the
    category filter reads a few rows instead of every agent's JSON."""

    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
class CatalogImport(Base):
    """Who imported what into the catalog, and when."""

    __tablename__ = "catalog_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(300), default="")
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)


class Publication(Base):
    """One approval's outcome at one publishing target; one row per pair, so a retry updates it."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("approval_id", "target", name="uq_publications_approval_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), index=True)
    target: Mapped[str] = mapped_column(String(300))
    status: Mapped[PublishStatus] = mapped_column(_status_wide(PublishStatus), default=PublishStatus.PENDING)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The store's media URL once uploaded, so a retry never uploads a second store image.
    store_media_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
