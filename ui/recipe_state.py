"""Putting a stored recipe back into the studio's widgets ("use this recipe", image recall)."""

from __future__ import annotations

from typing import Any, MutableMapping

from imagegen.palettes import PRESETS
from imagegen.providers import provider_class
from imagegen.records import GenerationSpec


def load_recipe(state: MutableMapping[str, Any], recipe: dict, agent_slug: str | None = None) -> GenerationSpec:
    """Set the studio's widget keys from a recipe. Call before the widgets are drawn (a callback,
    or before switching to the studio page)."""
    spec = GenerationSpec.model_validate({k: v for k, v in recipe.items() if k in GenerationSpec.model_fields})
    p = spec.provider
    if agent_slug:
        state["agent_slug"] = agent_slug
        state["agent_query"], state["agent_category"], state["only_missing"] = "", "All categories", False
        state["filters_seen"] = ("", "All categories", False)  # cleared by us, not a new search
    state["recipe_for"] = agent_slug or state.get("agent_slug")  # the studio keeps this recipe for that agent
    state["provider"] = p
    model = spec.model or next(iter(provider_class(p).models), "default")  # what the studio's model box will show
    state[f"model_{p}"] = model
    state["defaults_for"] = (p, model)  # keep the recalled template and ratio instead of the model's defaults
    state[f"template_{p}"] = spec.template
    state["prompt"], state["prompt_source"] = spec.prompt, (agent_slug or state.get("agent_slug"), spec.template)
    state["aspect"] = spec.aspect_ratio
    palette = spec.palette
    if palette is not None and palette.name in PRESETS and PRESETS[palette.name] == palette:
        state["palette_name"] = state["palette_shown"] = palette.name
    elif palette is not None:
        state["palette_name"], state["palette_shown"], state["palette_size"] = "custom", "custom", len(palette.colors)
        for i, colour in enumerate(palette.colors):
            state[f"palette_hex_{i}"], state[f"palette_weight_{i}"] = colour.hex, colour.weight
    if spec.style:
        state[f"style_{p}"] = spec.style
    if spec.magic_prompt:
        state[f"magic_{p}"] = spec.magic_prompt
    state["negative_prompt"] = spec.negative_prompt or ""
    state["fixed_seed"], state["seed"] = spec.seed is not None, spec.seed if spec.seed is not None else 0
    state["count"] = spec.count
    for name, value in spec.options.items():
        state[f"option_{p}_{name}"] = value
    return spec
