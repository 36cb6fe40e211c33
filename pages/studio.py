"""The curator studio: pick an agent, tweak the recipe, compare candidates, approve one."""

from __future__ import annotations

import streamlit as st

from imagegen.approval import approve_candidate
from imagegen.catalog import all_categories, find_agents
from imagegen.costs import estimate, spent_today
from imagegen.errors import ImagegenError
from imagegen.generation import latest_generation, reroll_candidate, start_generation, upscale_candidate
from imagegen.images import read_recipe
from imagegen.palettes import BRAND, PRESETS, custom_palette
from imagegen.prompts import clean_text
from imagegen.providers import default_provider, provider_choices, provider_class
from imagegen.recipes import list_templates, make_spec, prompt_for, save_template
from imagegen.records import ASPECT_RATIOS, Approval, Candidate
from ui.auth import require_page
from ui.publishing import current_publish_state, store_image
from ui.recipe_state import load_recipe
from ui.resources import thumbnail, workspace
from ui.text import literal
from ui.widgets import option_inputs, status_badge, swatches

actor = require_page("curator")
ws = workspace()
state = st.session_state
state.setdefault("board", {})  # agent slug -> candidate ids shown in the grid
state.setdefault("provider", default_provider(ws.settings))


def _recall_from_image() -> None:
    """Dropping a generated image on the studio brings its recipe back."""
    upload = state.get("recall_upload")
    if upload is None:
        return
    recipe = read_recipe(upload.getvalue())
    if recipe is None:
        state["recall_message"] = ("warning", "That image carries no Thumbnail Studio recipe.")
        return
    try:
        known = ws.get_agent(recipe.get("agent", "")).slug
    except ImagegenError:
        known = None
    try:
        load_recipe(state, recipe, known)
    except ValueError as exc:
        state["recall_message"] = ("error", f"The recipe in that image could not be read: {exc}")
        return
    state["recall_message"] = ("success", f"Recipe recalled ({recipe.get('provider')}, seed {recipe.get('seed')}).")


# --- find an agent ------------------------------------------------------------------------

with st.sidebar:
    st.subheader("Find an agent")
    query = st.text_input("Search", key="agent_query", placeholder="Name, slug or category")
    with ws.session() as s:
        category = st.selectbox("Category", ["All categories", *all_categories(s)], key="agent_category")
        only_missing = st.toggle("Only agents without a thumbnail", key="only_missing")
        agents = find_agents(s, query, only_missing=only_missing, category=None if category == "All categories" else category)
    if not agents:
        st.info("No agent matches. Clear the search or the filters.")
        st.stop()
    by_slug = {a.slug: a for a in agents}
    if state.get("agent_slug") not in by_slug:
        state["agent_slug"] = agents[0].slug
    with st.expander("Recall a recipe from an image"):
        st.file_uploader("Drop a generated image", type=["png", "jpg", "jpeg"], key="recall_upload", on_change=_recall_from_image)
    slug = st.radio(
        f"{len(agents)} agent{'s' if len(agents) != 1 else ''}",
        list(by_slug),
        format_func=lambda s: by_slug[s].name + (" ✓" if by_slug[s].current_thumbnail else ""),
        help="✓ marks agents that already have a thumbnail.",
        key="agent_slug",
    )

agent = by_slug[slug]
if slug not in state.board:
    latest = latest_generation(ws, slug)  # a refreshed page finds its results again
    state.board[slug] = [c.id for c in ws.get_generation(latest).candidates] if latest else []

st.title(literal(agent.name))
if agent.sub_heading:
    st.caption(literal(agent.sub_heading))

recalled = state.pop("recall_message", None)
if recalled:
    getattr(st, recalled[0])(recalled[1])

approved = state.pop("just_approved", None)
if approved:
    with ws.session() as s:
        approval = s.get(Approval, approved)
    st.success(f"Approved candidate #{approval.candidate_id}.", icon=":material/verified:")

agent_col, recipe_col = st.columns([1, 2], gap="large")

with agent_col:
    st.markdown("**Current thumbnail**")
    if agent.current_thumbnail:
        st.image(thumbnail(agent.current_thumbnail), width="stretch")
    else:
        st.info("No thumbnail yet.", icon=":material/hide_image:")
    current_publish_state(agent, actor)
    store_image(agent)
    if agent.categories:
        st.markdown(" ".join(f":violet-badge[{literal(c)}]" for c in agent.categories))
    with st.expander("Description", expanded=False):
        st.text(clean_text(agent.description, 2000) or "No description.")

# --- the recipe ---------------------------------------------------------------------------

with recipe_col:
    choices = {c.cls.name: c for c in provider_choices(ws.settings)}
    top = st.columns([3, 2, 2])
    provider_name = top[0].selectbox(
        "Provider",
        list(choices),
        format_func=lambda n: choices[n].cls.label + ("" if choices[n].enabled else " (no key)"),
        key="provider",
    )
    provider = choices[provider_name]
    model = top[1].selectbox("Model", provider.cls.model_choices(ws.settings) or ("default",), key=f"model_{provider_name}")
    templates = list_templates(ws)
    template_key = f"template_{provider_name}"
    # Switching provider or model prefills its recipe: pop-art for Ideogram, app-store 4:3 for Flux.
    if state.get("defaults_for") != (provider_name, model):
        defaults = provider.cls.recipe_defaults(model)
        state[template_key], state["aspect"] = defaults["template"], defaults["aspect_ratio"]
        state["defaults_for"] = (provider_name, model)
    template = top[2].selectbox("Template", list(templates), key=template_key)
    if not provider.enabled:
        st.warning(provider.reason, icon=":material/key_off:")

    # The prompt follows the agent and the template until the curator edits it.
    source = (slug, template)
    if state.get("prompt_source") != source:
        state["prompt"] = prompt_for(ws, agent, template)
        state["prompt_source"] = source
    st.text_area("Prompt", key="prompt", height=150, help="Rendered from the template; edit freely.")
    with st.expander("Save a template"):
        st.caption("Use {name}, {description}, {sub_heading}, {categories} or {subject}; saved templates appear in every page.")
        new_name = st.text_input("Template name", key="new_template_name")
        new_text = st.text_area("Template", value=templates[template], key=f"new_template_text_{template}", height=120)
        if st.button("Save template", key="save_template", icon=":material/save:"):
            try:
                save_template(ws, new_name, new_text, actor=actor)
                st.success(f"Saved the template {new_name.strip()!r}.")
            except ImagegenError as exc:
                st.error(str(exc))

    palette_col, shape_col = st.columns(2, gap="medium")
    with palette_col:
        palette_name = st.selectbox("Palette", [*PRESETS, "custom"], key="palette_name")
        palette = PRESETS.get(palette_name)
        if palette is None:
            n = st.slider("Colours", 1, 8, 5, key="palette_size")
            colours = []
            for i in range(n):
                c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
                default = BRAND.colors[i % len(BRAND.colors)]
                hexcode = c1.color_picker(f"Colour {i + 1}", default.hex, key=f"palette_hex_{i}")
                weight = c2.slider(f"Weight {i + 1}", 0.05, 1.0, default.weight, 0.05, key=f"palette_weight_{i}")
                colours.append({"hex": hexcode, "weight": weight})
            try:
                palette = custom_palette(colours)
            except ImagegenError as exc:
                st.error(str(exc))
        if palette is not None:
            swatches(palette)
    with shape_col:
        aspect = st.selectbox("Aspect ratio", ASPECT_RATIOS, key="aspect")
        style = st.selectbox("Style", provider.cls.styles, key=f"style_{provider_name}") if provider.cls.styles else None
        magic = (
            st.segmented_control("Magic prompt", ["AUTO", "ON", "OFF"], default="OFF", key=f"magic_{provider_name}")
            if provider.cls.supports_magic_prompt
            else None
        )
        negative = st.text_input("Negative prompt", key="negative_prompt") if provider.cls.supports_negative_prompt else None
        options = option_inputs(provider.cls.options_for(model), key_prefix=f"option_{provider_name}")
        seed_col, count_col = st.columns(2)
        fixed = seed_col.toggle("Fixed seed", key="fixed_seed")
        seed = seed_col.number_input("Seed", 0, 2_147_483_647, key="seed") if fixed else None
        count = count_col.slider("Candidates", 1, 8, 4, key="count")

    board = state.board[slug]
    busy = any(not c.status.finished for c in ws.candidates(board))
    spec, spec_error = None, None
    try:
        spec = make_spec(
            ws, agent, provider=provider_name, template=template, prompt=state["prompt"], palette=palette,
            model=None if model == "default" else model, aspect_ratio=aspect, style=style, magic_prompt=magic,
            negative_prompt=negative or None, seed=seed, count=count, options=options,
        )
    except ImagegenError as exc:
        spec_error = str(exc)
    button_col, cost_col = st.columns([2, 3], vertical_alignment="center")
    if spec is not None and (cost := estimate(ws, spec)) > 0:
        budget = ws.settings.daily_budget
        cost_col.caption(
            f"Estimated cost **${cost:.2f}** · spent today ${spent_today(ws):.2f}"
            + (f" of a ${budget:.2f} budget" if budget is not None else "")
        )
    if spec_error:
        st.error(spec_error, icon=":material/error:")
    if button_col.button(
        "Generate" if not board else "Regenerate all",
        type="primary",
        icon=":material/auto_awesome:",
        key="generate",
        disabled=not provider.enabled or spec is None or busy,
        help="Wait for the running candidates, or cancel them" if busy else None,
    ):
        try:
            generation_id = start_generation(ws, slug, spec, actor=actor)
            ws.jobs.submit(generation_id)  # runs outside this script thread; reruns never touch it
            state.board[slug] = [c.id for c in ws.get_generation(generation_id).candidates]
            st.rerun()
        except ImagegenError as exc:
            st.error(str(exc), icon=":material/error:")

# --- candidates ---------------------------------------------------------------------------


def _close_dialog() -> None:
    state.pop("dialog", None)


# A dialog is opened by putting ("view" | "approve", candidate id) in state["dialog"]; it stays
# open across reruns until it finishes or is dismissed.
@st.dialog("Full size", width="large", on_dismiss=_close_dialog)
def show_full_size(candidate: Candidate) -> None:
    st.image(ws.media.get(candidate.image_key), width="stretch")  # bytes: the store may be S3, not a path
    st.caption(f"Candidate #{candidate.id} · seed {candidate.seed} · {candidate.width}x{candidate.height}")
    if candidate.provider_prompt and candidate.provider_prompt != state.get("prompt"):
        st.markdown("**Prompt the provider used**")
        st.text(candidate.provider_prompt)


@st.dialog("Approve this thumbnail?", on_dismiss=_close_dialog)
def confirm_approval(candidate: Candidate) -> None:
    st.image(thumbnail(candidate.image_key), width="stretch")
    st.write(
        f"It becomes the store thumbnail of **{literal(agent.name)}**"
        + (", replacing the current one." if agent.current_thumbnail else ".")
    )
    if st.button("Approve and upload", type="primary", key="confirm_approve", icon=":material/upload:"):
        try:
            approval = approve_candidate(ws, candidate.id, actor=actor)
        except ImagegenError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        state["just_approved"] = approval.id
        _close_dialog()
        st.rerun()


def candidate_card(candidate: Candidate, index: int) -> None:
    with st.container(border=True):
        if candidate.image_key:
            st.image(thumbnail(candidate.image_key), width="stretch")
        else:
            st.html(f'<div style="aspect-ratio:{aspect.replace("x", "/")};background:#1C0C47;border-radius:6px"></div>')
        status_badge(candidate.status)
        st.caption(f"#{candidate.id} · seed {candidate.seed}")
        if candidate.error:
            st.caption(candidate.error)
        if candidate.status.finished:
            if candidate.image_key and st.button("Approve", key=f"approve_{candidate.id}", type="primary", icon=":material/check:", width="stretch"):
                state["dialog"] = ("approve", candidate.id)
                st.rerun()
            b1, b2 = st.columns(2)
            if candidate.image_key and b1.button("View", key=f"view_{candidate.id}", icon=":material/zoom_in:", width="stretch"):
                state["dialog"] = ("view", candidate.id)
                st.rerun()
            if b2.button("Reroll", key=f"reroll_{candidate.id}", icon=":material/casino:", width="stretch", disabled=not provider.enabled):
                new_id = reroll_candidate(ws, candidate.id, actor=actor)
                ws.jobs.submit(ws.get_candidate(new_id).generation_id)
                state.board[slug][index] = new_id
                st.rerun()
            if candidate.image_key and provider_class(candidate.generation.recipe.provider).supports_upscale and st.button(
                "Upscale", key=f"upscale_{candidate.id}", icon=":material/zoom_out_map:", width="stretch"
            ):
                generation_id = upscale_candidate(ws, candidate.id, actor=actor)
                ws.jobs.submit(generation_id)
                state.board[slug].append(ws.get_generation(generation_id).candidates[0].id)
                st.rerun()


def candidate_grid() -> None:
    candidates = ws.candidates(state.board[slug])
    if not candidates:
        st.info("Pick a recipe and press Generate. Candidates appear here as they land.", icon=":material/grid_view:")
        return
    running = [c for c in candidates if not c.status.finished]
    if running:
        done = len(candidates) - len(running)
        bar, cancel = st.columns([5, 1], vertical_alignment="center")
        bar.progress(done / len(candidates), text=f"{done} of {len(candidates)} candidates ready")
        if cancel.button("Cancel", key="cancel", icon=":material/stop_circle:"):
            for generation_id in {c.generation_id for c in running}:
                ws.jobs.cancel(generation_id)
    per_row = 4
    for start in range(0, len(candidates), per_row):
        for offset, col in enumerate(st.columns(per_row)):
            if start + offset < len(candidates):
                with col:
                    candidate_card(candidates[start + offset], start + offset)
    if state.get("grid_was_running") and not running:
        state["grid_was_running"] = False
        st.rerun()  # one full rerun to re-enable Generate once everything has landed
    state["grid_was_running"] = bool(running)


st.subheader("Candidates")
st.fragment(candidate_grid, run_every=1.0 if busy else None)()

if "dialog" in state:
    kind, candidate_id = state["dialog"]
    (show_full_size if kind == "view" else confirm_approval)(ws.get_candidate(candidate_id))
