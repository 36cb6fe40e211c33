"""Prompt experiments: agents x axes (templates, palettes, providers or models, seeds, ratios).

Every cell is a generation whose recipe is kept; extending an experiment with new axis
values runs only the cells it does not have yet.
"""

from __future__ import annotations

import io
import itertools
import json
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw
from sqlalchemy import select

from imagegen.auth import Actor, local_admin, require
from imagegen.costs import estimate
from imagegen.errors import InvalidInput, NotFound
from imagegen.export import write_csv
from imagegen.generation import start_generation
from imagegen.popart import font
from imagegen.recipes import make_spec
from imagegen.records import Experiment, Generation

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

AXES = ("template", "palette", "provider", "seed", "aspect_ratio")


def cell_choices(base: dict, cell: dict) -> dict:
    """The make_spec choices of one cell: the base recipe with the cell's axis values."""
    choices = {**base}
    for axis, value in cell.items():
        if axis == "provider":
            provider, _, model = str(value).partition(":")
            choices["provider"], choices["model"] = provider, model or None
        elif axis == "seed":
            choices["seed"] = int(value)
        else:
            choices[axis] = value
    return choices


def plan(agent_slugs: list[str], axes: dict[str, list]) -> list[tuple[str, dict]]:
    unknown = set(axes) - set(AXES)
    if unknown:
        raise InvalidInput(f"Unknown experiment axis {', '.join(sorted(unknown))}: use {', '.join(AXES)}.")
    if not agent_slugs:
        raise InvalidInput("Pick at least one agent.")
    names = [a for a in AXES if axes.get(a)]
    combos = list(itertools.product(*(axes[a] for a in names))) or [()]
    return [(slug, dict(zip(names, combo))) for slug in agent_slugs for combo in combos]


def estimate_plan(ws: "Workspace", agent_slugs: list[str], axes: dict[str, list], base: dict) -> tuple[int, float]:
    """How many images the plan makes and what they would cost, before anything runs."""
    images, cost = 0, 0.0
    for slug, cell in plan(agent_slugs, axes):
        spec = make_spec(ws, ws.get_agent(slug), **cell_choices(base, cell))
        images += spec.count
        cost += estimate(ws, spec)
    return images, cost


def save_experiment(ws: "Workspace", name: str, agent_slugs: list[str], axes: dict[str, list], base: dict, experiment_id: int | None = None,
                    *, actor: Actor | None = None) -> int:
    actor = require(actor or local_admin(ws.settings), "experiment")
    plan(agent_slugs, axes)  # refuse nonsense before saving
    with ws.session() as s, s.begin():
        exp = s.get(Experiment, experiment_id) if experiment_id else Experiment()
        if exp is None:
            raise NotFound(f"No experiment {experiment_id}.")
        exp.name, exp.agent_slugs, exp.axes, exp.base = name or "experiment", agent_slugs, axes, base
        exp.created_by = exp.created_by or actor.email
        s.add(exp)
        s.flush()
        return exp.id


def get_experiment(ws: "Workspace", experiment_id: int) -> Experiment:
    with ws.session() as s:
        exp = s.get(Experiment, experiment_id)
        if exp is None:
            raise NotFound(f"No experiment {experiment_id}.")
        return exp


def list_experiments(ws: "Workspace") -> list[Experiment]:
    with ws.session() as s:
        return list(s.scalars(select(Experiment).order_by(Experiment.id.desc())))


def _key(slug: str, cell: dict) -> str:
    return json.dumps([slug, cell], sort_keys=True)


def start_missing_cells(ws: "Workspace", experiment_id: int, *, actor: Actor | None = None) -> list[int]:
    """Queue a generation for every planned cell that has none yet; returns their ids."""
    actor = require(actor or local_admin(ws.settings), "experiment")
    exp = get_experiment(ws, experiment_id)
    have = {_key(g.agent.slug, g.cell or {}) for g in experiment_generations(ws, experiment_id)}
    started = []
    for slug, cell in plan(exp.agent_slugs, exp.axes):
        if _key(slug, cell) in have:
            continue
        spec = make_spec(ws, ws.get_agent(slug), **cell_choices(exp.base, cell))
        started.append(start_generation(ws, slug, spec, experiment_id=experiment_id, cell=cell, actor=actor))
    return started


def experiment_generations(ws: "Workspace", experiment_id: int) -> list[Generation]:
    with ws.session() as s:
        return list(s.scalars(select(Generation).where(Generation.experiment_id == experiment_id).order_by(Generation.id)))


def result_rows(ws: "Workspace", experiment_id: int) -> list[dict]:
    """One row per candidate: agent, axis values, the full recipe and the outcome."""
    rows = []
    for gen in experiment_generations(ws, experiment_id):
        for cand in gen.candidates:
            rows.append({
                "agent": gen.agent.slug, **{f"axis_{k}": v for k, v in (gen.cell or {}).items()},
                "generation": gen.id, "candidate": cand.id, "status": cand.status.value, "seed": cand.seed,
                "image": ws.media.location(cand.image_key) if cand.image_key else "", "error": cand.error or "",
                "cost_usd": round(gen.cost_usd / max(1, len(gen.candidates)), 4),
                "recipe": json.dumps(gen.spec, ensure_ascii=False),
            })
    return rows


def export_csv(rows: list[dict]) -> bytes:
    return write_csv(rows)  # cells a spreadsheet would run as formulas are neutralised


def label(value) -> str:
    return str(value) if not isinstance(value, (list, tuple)) else " / ".join(map(str, value))


def grid(ws: "Workspace", experiment_id: int, rows_axis: str, cols_axis: str) -> tuple[list, list, dict]:
    """Row labels, column labels, and (row, col) -> the candidates of that cell ("agent" is an
    axis too, labelled by the agent's name)."""
    cells: dict = {}
    row_labels: list = []
    col_labels: list = []
    for gen in experiment_generations(ws, experiment_id):
        values = {"agent": gen.agent.name, **(gen.cell or {})}
        r, c = label(values.get(rows_axis, "")), label(values.get(cols_axis, ""))
        row_labels += [r] if r not in row_labels else []
        col_labels += [c] if c not in col_labels else []
        cells.setdefault((r, c), []).extend(gen.candidates)
    return row_labels, col_labels, cells


def _fit(draw: ImageDraw.ImageDraw, text: str, face, width: int) -> str:
    """The text, cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=face) <= width:
        return text
    while text and draw.textlength(text + "…", font=face) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def sheet_headings(ws: "Workspace", experiment_id: int, rows_axis: str, cols_axis: str) -> tuple[str, str, str]:
    """The contact sheet's title, shared recipe line and axis line."""
    exp = get_experiment(ws, experiment_id)
    fixed = {k: label(v[0]) for k, v in exp.axes.items() if len(v) == 1 and k not in (rows_axis, cols_axis)}
    shared = {**{k: v for k, v in exp.base.items() if k != "count"}, **fixed}
    recipe = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in shared.items()) or "defaults"
    count = exp.base.get("count", 1)
    recipe = f"Recipe: {recipe} · {count} image{'s' if count != 1 else ''} a cell, the first shown"
    axes = f"Rows: {rows_axis.replace('_', ' ')}   ·   Columns: {cols_axis.replace('_', ' ')}"
    return exp.name or f"Experiment {exp.id}", recipe, axes


def contact_sheet(ws: "Workspace", experiment_id: int, rows_axis: str, cols_axis: str, tile: int = 480) -> bytes:
    """A PNG of the grid, made to be printed or pasted in a deck: a title, the axis names, the
    shared recipe, row and column labels, and each cell's first image at `tile` pixels wide
    (480 px prints about 4 cm wide at 300 dpi; the labels are 22 px or more)."""
    rows, cols, cells = grid(ws, experiment_id, rows_axis, cols_axis)
    if not rows:
        raise InvalidInput("The experiment has no results yet.")
    title, recipe, axes_line = sheet_headings(ws, experiment_id, rows_axis, cols_axis)
    gap, margin, label_w = 16, 40, 300
    th = tile * 9 // 16
    title_face, axis_face, label_face, small_face = font(44), font(26), font(24), font(20)
    head = margin + 60 + 40 + 40 + 50  # title, recipe, axis names, column labels
    width = margin * 2 + label_w + len(cols) * (tile + gap)
    height = head + len(rows) * (th + gap) + margin
    sheet = Image.new("RGB", (width, height), (0, 0, 48))
    draw = ImageDraw.Draw(sheet)
    white, soft, accent = (255, 255, 255), (200, 200, 230), (66, 133, 244)
    draw.text((margin, margin), _fit(draw, title, title_face, width - 2 * margin), font=title_face, fill=white)
    draw.text((margin, margin + 64), _fit(draw, recipe, small_face, width - 2 * margin), font=small_face, fill=soft)
    draw.text((margin, margin + 100), axes_line, font=axis_face, fill=accent)
    x0, y0 = margin + label_w, head
    for j, col in enumerate(cols):
        draw.text((x0 + j * (tile + gap), head - 42), _fit(draw, col, label_face, tile), font=label_face, fill=white)
    for i, row in enumerate(rows):
        y = y0 + i * (th + gap)
        draw.text((margin, y + th // 2 - 14), _fit(draw, row, label_face, label_w - gap), font=label_face, fill=white)
        for j, col in enumerate(cols):
            x = x0 + j * (tile + gap)
            done = [c for c in cells.get((row, col), []) if c.image_key]
            if not done:
                draw.rectangle((x, y, x + tile, y + th), outline=accent, width=2)
                draw.text((x + 16, y + th // 2 - 12), "no image", font=small_face, fill=soft)
                continue
            with Image.open(io.BytesIO(ws.thumbnail(done[0].image_key, max(tile, th)))) as im:
                im.thumbnail((tile, th))
                sheet.paste(im, (x + (tile - im.width) // 2, y + (th - im.height) // 2))
    out = io.BytesIO()
    sheet.save(out, "PNG")
    return out.getvalue()
