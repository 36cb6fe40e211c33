"""Experiments: agents through several templates, palettes, providers and seeds, compared in a grid."""

from __future__ import annotations

import json

import streamlit as st

from imagegen.errors import ImagegenError
from imagegen.experiments import (
    AXES,
    contact_sheet,
    estimate_plan,
    experiment_generations,
    export_csv,
    get_experiment,
    grid,
    list_experiments,
    result_rows,
    save_experiment,
    start_missing_cells,
)
from imagegen.palettes import PRESETS
from imagegen.providers import provider_choices
from imagegen.recipes import list_templates
from imagegen.records import ASPECT_RATIOS
from ui.agent_search import pick_agents
from ui.resources import thumbnail_url, workspace
from ui.auth import require_page
from ui.text import literal
from ui.widgets import cell_actions, status_badge

actor = require_page("curator")
ws = workspace()
state = st.session_state
st.title("Experiments")

saved = {e.id: e for e in list_experiments(ws)}
if "experiment_open" in state:  # set by "Save and run" below, applied before the box is drawn
    state["experiment_pick"] = state.pop("experiment_open")
choice = st.selectbox("Experiment", [None, *saved], format_func=lambda i: "New experiment" if i is None else f"#{i} {saved[i].name}", key="experiment_pick")
current = saved.get(choice)
axes0 = current.axes if current else {}

provider_values = [
    name if len(c.cls.model_choices(ws.settings)) <= 1 else f"{name}:{model}"
    for name, c in ((c.cls.name, c) for c in provider_choices(ws.settings) if c.enabled)
    for model in (c.cls.model_choices(ws.settings) or ("",))
]
provider_values = list(dict.fromkeys(provider_values))

name = st.text_input("Name", current.name if current else "", key=f"exp_name_{choice}")
chosen_agents = pick_agents(ws, f"exp_agents_{choice}", default=current.agent_slugs if current else None)
c1, c2 = st.columns(2)
templates = c1.multiselect("Templates", list(list_templates(ws)), default=axes0.get("template", ["pop-art"]), key=f"exp_templates_{choice}")
palettes = c2.multiselect("Palettes", list(PRESETS), default=axes0.get("palette", ["brand"]), key=f"exp_palettes_{choice}")
providers = c1.multiselect("Providers or models", provider_values, default=[p for p in axes0.get("provider", ["local"]) if p in provider_values], key=f"exp_providers_{choice}")
aspects = c2.multiselect("Aspect ratios", ASPECT_RATIOS, default=axes0.get("aspect_ratio", ["16x9"]), key=f"exp_aspects_{choice}")
seeds_text = c1.text_input("Seeds, comma-separated", ", ".join(map(str, axes0.get("seed", [1, 2]))), key=f"exp_seeds_{choice}")
per_cell = c2.slider("Images per cell", 1, 4, (current.base.get("count", 1) if current else 1), key=f"exp_count_{choice}")

try:
    seeds = [int(s) for s in seeds_text.replace(" ", "").split(",") if s]
    axes = {"template": templates, "palette": palettes, "provider": providers, "aspect_ratio": aspects, "seed": seeds}
    axes = {k: v for k, v in axes.items() if v}
    base = {"count": per_cell, "provider": "local"}
    images, cost = estimate_plan(ws, chosen_agents, axes, base)
    st.caption(f"The full grid is **{images} images**" + (f", estimated **${cost:.2f}**" if cost else " (free: local only)")
               + ". Cells already run are not run again.")
    if st.button("Save and run the missing cells", type="primary", icon=":material/science:", key="exp_run"):
        experiment_id = save_experiment(ws, name, chosen_agents, axes, base, experiment_id=choice, actor=actor)
        for generation_id in start_missing_cells(ws, experiment_id, actor=actor):
            ws.jobs.submit(generation_id)
        state["experiment_open"] = experiment_id
        st.rerun()
except (ImagegenError, ValueError) as exc:
    st.error(f"{exc}" if isinstance(exc, ImagegenError) else "Seeds are whole numbers separated by commas.")

if current is None:
    st.stop()

exp = get_experiment(ws, current.id)
used_axes = ["agent", *[a for a in AXES if exp.axes.get(a)]]
# The grid opens on the axes that vary: one with a single value (the default template) as a
# column would stack a varying axis's images in each cell, with nothing saying which is which.
varying = [a for a in used_axes if len(exp.agent_slugs if a == "agent" else exp.axes[a]) > 1]
first_two = (varying + [a for a in used_axes if a not in varying])[:2]
g1, g2 = st.columns(2)
rows_axis = g1.selectbox("Rows", used_axes, index=used_axes.index(first_two[0]), key="exp_rows")
cols_axis = g2.selectbox("Columns", used_axes, index=used_axes.index(first_two[-1]), key="exp_cols")
running = any(not g.status.finished for g in experiment_generations(ws, exp.id))


def experiment_grid() -> None:
    message = state.pop("cell_message", None)
    if message:
        getattr(st, message[0])(message[1])
    rows, cols, cells = grid(ws, exp.id, rows_axis, cols_axis)
    gens = experiment_generations(ws, exp.id)
    slugs = {g.id: g.agent.slug for g in gens}
    done = sum(g.status.finished for g in gens)
    st.progress(done / max(1, len(gens)), text=f"{done} of {len(gens)} cells finished")
    header = st.columns([1] + [2] * len(cols))
    for j, col in enumerate(cols):
        header[j + 1].markdown(f"**{literal(col)}**")
    for row in rows:
        line = st.columns([1] + [2] * len(cols))
        line[0].markdown(f"**{literal(row)}**")
        for j, col in enumerate(cols):
            with line[j + 1]:
                for cand in cells.get((row, col), [])[:4]:
                    if cand.image_key:
                        st.image(thumbnail_url(cand.image_key, 320), width="stretch")
                        cell_actions(cand, slugs[cand.generation_id])
                    else:
                        status_badge(cand.status)
    if state.get("exp_was_running") and done == len(gens):
        state["exp_was_running"] = False
        st.rerun()
    state["exp_was_running"] = done < len(gens)


st.fragment(experiment_grid, run_every=1.0 if running else None)()

st.subheader("Export")
rows = result_rows(ws, exp.id)
e1, e2, e3 = st.columns(3)
e1.download_button("Recipes and results (CSV)", export_csv(rows), f"experiment-{exp.id}.csv", "text/csv", key="exp_csv")
e2.download_button("Recipes and results (JSON)", json.dumps(rows, indent=2, ensure_ascii=False), f"experiment-{exp.id}.json", "application/json", key="exp_json")
if e3.button("Make a contact sheet", key="exp_sheet", icon=":material/grid_on:"):
    try:
        st.download_button("Download the contact sheet (PNG)", contact_sheet(ws, exp.id, rows_axis, cols_axis), f"experiment-{exp.id}.png", "image/png", key="exp_sheet_png")
    except ImagegenError as exc:
        st.error(str(exc))
