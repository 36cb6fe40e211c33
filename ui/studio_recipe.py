"""The studio's recipe: provider, template, prompt, palette and shape, and the Generate button.

The widgets hold the recipe of the agent on screen. Each agent keeps its own draft in the
session, and the recipe of its last Generate in the database, so switching agents, switching
back, refreshing or opening a shared link shows the recipe the board was made with.
"""

from __future__ import annotations

import streamlit as st

from imagegen.costs import estimate, spent_today
from imagegen.errors import ImagegenError
from imagegen.jobs import submit_generation
from imagegen.palettes import BRAND, PRESETS, custom_palette
from imagegen.prompts import prompt_limit
from imagegen.providers import provider_choices
from imagegen.recipes import list_templates, make_spec, prompt_for, save_template
from imagegen.records import ASPECT_RATIOS, Agent, GenerationSpec
from imagegen.review import remember_recipe, studio_board
from imagegen.workspace import Workspace
from ui.auth import current_actor
from ui.recipe_state import load_recipe
from ui.studio_board import Board, set_board
from ui.text import literal
from ui.widgets import option_inputs, swatches


def restore_recipe(ws: Workspace, agent: Agent, board: Board) -> None:
    """Put the agent's recipe in the widgets when the studio turns to it: the session's draft,
    else the recipe the agent's own board was made with, else the shown board's recipe."""
    state = st.session_state
    # Streamlit drops the state of widgets that were not drawn: after another page, or a reload
    # that resumed this session (the new browser page sends no widget values). The controls then
    # come back from the board's recipe rather than falling to the defaults.
    widgets_gone = "palette_name" not in state
    if state.get("recipe_for") == agent.slug and not widgets_gone:
        return
    recipe = None if state.get("recipe_for") == agent.slug else state.setdefault("drafts", {}).get(agent.slug)
    if recipe is None and agent.last_recipe and board.generation in (None, studio_board(ws, agent.slug)):
        recipe = agent.last_recipe  # as the curator set it: a random seed stays random
    if recipe is None and board.generation is not None:
        recipe = ws.get_generation(board.generation).spec
    state["recipe_for"] = agent.slug
    if recipe is None:
        state.pop("defaults_for", None)  # a fresh agent starts from its provider's own recipe
        state["prompt_source"] = None
        return
    try:
        load_recipe(state, recipe)
    except (ValueError, ImagegenError):
        state["prompt_source"] = None  # a recipe from an older version: start afresh


def _index(options, key: str) -> int:
    """The widget's default is its current value (see the note in .streamlit/config.toml)."""
    value = st.session_state.get(key)
    return list(options).index(value) if value in options else 0


def _use_provider_defaults(template_key: str, defaults: dict) -> None:
    st.session_state[template_key], st.session_state["aspect"] = defaults["template"], defaults["aspect_ratio"]
    st.session_state.pop("defaults_note", None)


def _reset_prompt(ws: Workspace, agent: Agent, template: str) -> None:
    st.session_state["prompt"] = prompt_for(ws, agent, template)
    st.session_state["prompt_source"] = (agent.slug, template)


def _palette_changed() -> None:
    """A custom palette starts from the preset the curator was on, not from the brand colours."""
    state = st.session_state
    before = PRESETS.get(state.get("palette_shown") or "", BRAND)
    state["palette_shown"] = state["palette_name"]
    if state["palette_name"] == "custom":
        state["palette_size"] = len(before.colors)
        for i, colour in enumerate(before.colors):
            state[f"palette_hex_{i}"], state[f"palette_weight_{i}"] = colour.hex, colour.weight


def _provider_and_template(ws: Workspace):
    state = st.session_state
    choices = {c.cls.name: c for c in provider_choices(ws.settings)}
    top = st.columns([1, 1])
    provider_name = top[0].selectbox(
        "Provider",
        list(choices),
        format_func=lambda n: choices[n].cls.label + ("" if choices[n].enabled else " (no key)"),
        key="provider",
    )
    provider = choices[provider_name]
    models = list(provider.cls.model_choices(ws.settings) or ("default",))
    model = top[1].selectbox("Model", models, index=_index(models, f"model_{provider_name}"), key=f"model_{provider_name}")
    templates = list_templates(ws)
    template_key = f"template_{provider_name}"
    defaults = provider.cls.recipe_defaults(model)
    before = state.get("defaults_for")
    if before != (provider_name, model):
        if before is None:  # a fresh recipe takes the provider's own: pop-art for Ideogram, app-store 4:3 for Flux
            _use_provider_defaults(template_key, defaults)
        else:  # switching keeps what still applies and says what the provider would choose
            state[template_key] = state.get(f"template_{before[0]}", defaults["template"])
            if (state[template_key], state.get("aspect")) != (defaults["template"], defaults["aspect_ratio"]):
                state["defaults_note"] = (provider.cls.label, model, defaults)
            else:
                state.pop("defaults_note", None)
        state["defaults_for"] = (provider_name, model)
    if state.get(template_key) not in templates:
        state[template_key] = defaults["template"] if defaults["template"] in templates else next(iter(templates))
    template = st.selectbox("Template", list(templates), index=_index(list(templates), template_key), key=template_key)
    if not provider.enabled:
        st.warning(provider.reason, icon=":material/key_off:")
    note = state.get("defaults_note")
    if note and note[:2] == (provider.cls.label, model):
        info, use = st.columns([4, 1], vertical_alignment="center")
        info.info(
            f"Kept the {state[template_key]} template at {state.get('aspect')}. "
            f"{note[0]} ({model}) would use {note[2]['template']} at {note[2]['aspect_ratio']}.",
            icon=":material/info:",
        )
        use.button("Use its recipe", key="use_provider_defaults", on_click=_use_provider_defaults, args=(template_key, note[2]))
    return provider, model, templates, template


def _prompt(ws: Workspace, agent: Agent, provider_name: str, templates: dict, template: str) -> None:
    state = st.session_state
    # The prompt follows the agent and the template until the curator edits it.
    if state.get("prompt_source") != (agent.slug, template):
        _reset_prompt(ws, agent, template)
    limit = prompt_limit(provider_name)
    st.text_area("Prompt", key="prompt", height=150, help=f"Rendered from the template; edit freely (at most {limit:,} characters).")
    length = len(state.get("prompt") or "")
    counter, reset = st.columns([3, 2], vertical_alignment="center")
    counter.caption(f"{length:,} / {limit:,} characters" + (" · too long for this provider" if length > limit else ""))
    reset.button("Reset to template", key="reset_prompt", icon=":material/restart_alt:", on_click=_reset_prompt, args=(ws, agent, template))
    with st.expander("Save a template"):
        st.caption("Use {name}, {title}, {description}, {sub_heading}, {categories} or {subject}; saved templates appear in every page.")
        new_name = st.text_input("Template name", key="new_template_name")
        new_text = st.text_area("Template", value=templates[template], key=f"new_template_text_{template}", height=120)
        if st.button("Save template", key="save_template", icon=":material/save:"):
            try:
                save_template(ws, new_name, new_text, actor=current_actor())
                st.success(f"Saved the template “{literal(new_name)}”.")
            except ImagegenError as exc:
                st.error(str(exc))


def _palette():
    state = st.session_state
    state.setdefault("palette_name", "brand")
    state.setdefault("palette_shown", state["palette_name"])
    names = [*PRESETS, "custom"]
    palette_name = st.selectbox("Palette", names, index=_index(names, "palette_name"), key="palette_name", on_change=_palette_changed)
    palette = PRESETS.get(palette_name)
    if palette is None:
        n = st.slider("Colours", 1, 8, state.setdefault("palette_size", len(BRAND.colors)), key="palette_size")
        colours = []
        for i in range(n):
            c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
            default = BRAND.colors[i % len(BRAND.colors)]
            hexcode = c1.color_picker(f"Colour {i + 1}", state.setdefault(f"palette_hex_{i}", default.hex), key=f"palette_hex_{i}")
            weight = c2.slider(f"Weight {i + 1}", 0.05, 1.0, state.setdefault(f"palette_weight_{i}", default.weight), 0.05,
                               key=f"palette_weight_{i}")
            colours.append({"hex": hexcode, "weight": weight})
        try:
            palette = custom_palette(colours)
        except ImagegenError as exc:
            st.error(str(exc))
    if palette is not None:
        swatches(palette)
    return palette


def _shape(provider, model):
    state = st.session_state
    cls, name = provider.cls, provider.cls.name
    aspect = st.selectbox("Aspect ratio", ASPECT_RATIOS, index=_index(ASPECT_RATIOS, "aspect"), key="aspect")
    styles = list(cls.styles)
    style = st.selectbox("Style", styles, index=_index(styles, f"style_{name}"), key=f"style_{name}") if styles else None
    magic = None
    if cls.supports_magic_prompt:
        magic = st.segmented_control("Magic prompt", ["AUTO", "ON", "OFF"], default=state.setdefault(f"magic_{name}", "OFF"), key=f"magic_{name}")
    negative = st.text_input("Negative prompt", key="negative_prompt") if cls.supports_negative_prompt else None
    options = option_inputs(cls.options_for(model), key_prefix=f"option_{name}")
    fixed = st.toggle("Fixed seed", state.setdefault("fixed_seed", False), key="fixed_seed")
    seed = st.number_input("Seed", 0, 2_147_483_647, state.setdefault("seed", 0), key="seed") if fixed else None
    count = st.slider("Candidates", 1, 8, state.setdefault("count", 4), key="count")
    return dict(aspect_ratio=aspect, style=style, magic_prompt=magic, negative_prompt=negative or None, seed=seed, count=count, options=options)


def _request_generation() -> None:
    # Handled in the script, after the widgets have been read: a prompt edited in the same
    # moment as the click is part of the recipe that runs.
    st.session_state["generate_requested"] = True


def _generate(ws: Workspace, agent: Agent, spec: GenerationSpec, draft: dict) -> str | None:
    try:
        generation_id = submit_generation(ws, agent.slug, spec, actor=current_actor())  # runs outside this script thread; reruns never touch it
    except ImagegenError as exc:
        return str(exc)
    remember_recipe(ws, agent.slug, draft)
    set_board(agent.slug, generation_id, [c.id for c in ws.get_generation(generation_id).candidates], latest=True)
    return None


def recipe_panel(ws: Workspace, agent: Agent, board: Board, busy: bool) -> bool:
    """Draw the recipe and the Generate button; returns whether the board is now running."""
    state = st.session_state
    restore_recipe(ws, agent, board)
    provider, model, templates, template = _provider_and_template(ws)
    _prompt(ws, agent, provider.cls.name, templates, template)
    palette_col, shape_col = st.columns(2, gap="medium")
    with palette_col:
        palette = _palette()
    with shape_col:
        shape = _shape(provider, model)

    spec, spec_error = None, None
    try:
        spec = make_spec(ws, agent, provider=provider.cls.name, template=template, prompt=state["prompt"], palette=palette,
                         model=None if model == "default" else model, **shape)
    except ImagegenError as exc:
        spec_error = str(exc)
    if spec is not None:
        draft = spec.model_dump(mode="json")
        state.setdefault("drafts", {})[agent.slug] = draft  # switching agent and back keeps these settings
    if state.pop("generate_requested", False) and spec is not None and provider.enabled and not busy:
        spec_error = _generate(ws, agent, spec, draft)
        busy = spec_error is None
    button_col, cost_col = st.columns([2, 3], vertical_alignment="center")
    if spec is not None and (cost := estimate(ws, spec)) > 0:
        budget = ws.settings.daily_budget
        cost_col.caption(
            f"Estimated cost **${cost:.2f}** · spent today ${spent_today(ws):.2f}"
            + (f" of a ${budget:.2f} budget" if budget is not None else "")
        )
    if spec_error:
        st.error(spec_error, icon=":material/error:")
    button_col.button(
        "Regenerate all" if board.candidates or busy else "Generate",
        type="primary",
        icon=":material/auto_awesome:",
        key="generate",
        disabled=not provider.enabled or spec is None or busy,
        help="Wait for the running candidates, or cancel them" if busy else None,
        on_click=_request_generation,
    )
    return busy
