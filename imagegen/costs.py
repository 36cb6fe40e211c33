"""What images cost: a price table, estimates before paid work, spend per day, a daily budget."""

from __future__ import annotations

import json
from datetime import datetime, time, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imagegen.errors import BudgetExceeded, ConfigError
from imagegen.providers import provider_class
from imagegen.records import Generation, GenerationSpec

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

# US dollars per image, by provider, then model, then rendering speed ("*" for any).
# Public list prices when written; override with IMAGEGEN_PRICES (a JSON file or JSON text).
DEFAULT_PRICES: dict[str, dict[str, dict[str, float]]] = {
    "local": {"*": {"*": 0.0}},
    "ideogram": {
        "V_3": {"FLASH": 0.03, "TURBO": 0.03, "BALANCED": 0.06, "DEFAULT": 0.06, "QUALITY": 0.09, "*": 0.06},
        "V_2": {"*": 0.08},
        "V_2_TURBO": {"*": 0.05},
        "*": {"*": 0.06},
    },
    "replicate": {
        "black-forest-labs/flux-1.1-pro": {"*": 0.04},
        "black-forest-labs/flux-schnell": {"*": 0.003},
        "ideogram-ai/ideogram-v3-turbo": {"*": 0.03},
        "*": {"*": 0.05},
    },
}


@lru_cache(maxsize=4)
def price_table(override: str | None) -> dict:
    if not override:
        return DEFAULT_PRICES
    try:
        text = Path(override).read_text() if not override.lstrip().startswith("{") else override
        table = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"IMAGEGEN_PRICES is neither a readable JSON file nor JSON text ({exc}).") from None
    merged = {p: {m: dict(s) for m, s in models.items()} for p, models in DEFAULT_PRICES.items()}
    for provider, models in table.items():
        for model, speeds in models.items():
            merged.setdefault(provider, {}).setdefault(model, {}).update(speeds)
    return merged


def unit_price(table: dict, spec: GenerationSpec) -> float:
    models = table.get(spec.provider)
    if models is None:
        return 0.0  # a provider with no price (a test fake, a retired name): nothing to count
    model = spec.model or next(iter(provider_class(spec.provider).models), "*")  # the provider's default model
    speeds = models.get(model) or models.get("*", {"*": 0.0})
    speed = str(spec.options.get("rendering_speed", "*"))
    return float(speeds.get(speed, speeds.get("*", 0.0)))


def estimate(ws: "Workspace", spec: GenerationSpec) -> float:
    return unit_price(price_table(ws.settings.prices), spec) * spec.count


def _midnight() -> datetime:
    return datetime.combine(datetime.now(timezone.utc).date(), time.min, tzinfo=timezone.utc)


def committed_today(session: Session) -> float:
    """Spent plus reserved since midnight UTC: what the budget counts. A job counts on the day
    it was made or last resumed (`charged_at`), so one resumed today is today's money."""
    total = func.coalesce(func.sum(Generation.cost_usd + Generation.reserved_usd), 0.0)
    return float(session.scalar(select(total).where(Generation.charged_at >= _midnight())) or 0.0)


def spent_today(ws: "Workspace") -> float:
    """Spent and reserved today (a running job counts at its estimate until it finishes)."""
    with ws.session() as s:
        return committed_today(s)


def spend_by_day(ws: "Workspace", days: int = 14) -> list[tuple[str, float]]:
    with ws.session() as s:
        rows = s.execute(select(Generation.charged_at, Generation.cost_usd).where(Generation.cost_usd > 0)).all()
    totals: dict[str, float] = {}
    for charged, cost in rows:
        day = charged.date().isoformat()
        totals[day] = totals.get(day, 0.0) + cost
    return sorted(totals.items(), reverse=True)[:days]


def check_budget(ws: "Workspace", spec: GenerationSpec, session: Session) -> float:
    """The estimate for `spec`; refuses paid work that would pass the daily budget.

    Call it inside the write transaction that records the reservation, after
    `lock_for_write`, so two processes cannot both see the same room in the budget."""
    cost = estimate(ws, spec)
    budget = ws.settings.daily_budget
    if budget is not None and cost > 0:
        committed = committed_today(session)
        if committed + cost > budget + 1e-9:
            raise BudgetExceeded(
                f"This would cost about ${cost:.2f}, and ${committed:.2f} of today's ${budget:.2f} budget is spent or reserved. "
                "Generate fewer images, use the local renderer, or raise IMAGEGEN_DAILY_BUDGET."
            )
    return cost
