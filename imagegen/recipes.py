"""Turning a curator's choices into a GenerationSpec: templates, palettes and defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select

from imagegen.auth import Actor, local_admin, require
from imagegen.errors import InvalidInput, NotFound
from imagegen.palettes import BRAND, parse_palette
from imagegen.prompts import BUILT_IN, agent_text, check_template, prompt_limit, render_prompt
from imagegen.providers import provider_class
from imagegen.records import Agent, GenerationSpec, Palette, PromptTemplate

if TYPE_CHECKING:
    from imagegen.workspace import Workspace


def list_templates(ws: "Workspace") -> dict[str, str]:
    with ws.session() as s:
        user = {t.name: t.text for t in s.scalars(select(PromptTemplate).order_by(PromptTemplate.name)) if t.name not in BUILT_IN}
    return {**BUILT_IN, **user}  # a built-in's name is never a saved template's (save_template refuses it)


def template_text(ws: "Workspace", name: str) -> str:
    if name in BUILT_IN:  # no saved template takes a built-in's name: no read (a batch asks once an agent)
        return BUILT_IN[name]
    templates = list_templates(ws)
    if name not in templates:
        raise NotFound(f"No template {name!r}: choose one of {', '.join(templates)}.")
    return templates[name]


def save_template(ws: "Workspace", name: str, text: str, *, actor: Actor | None = None) -> None:
    actor = require(actor or local_admin(ws.settings), "template")
    name = name.strip()
    if not name or name in BUILT_IN:
        raise InvalidInput(f"Choose a template name other than {', '.join(BUILT_IN)}.")
    check_template(text)
    with ws.session() as s, s.begin():
        row = s.scalar(select(PromptTemplate).where(PromptTemplate.name == name))
        if row is None:
            s.add(PromptTemplate(name=name, text=text, created_by=actor.email))
        else:
            row.text, row.created_by = text, actor.email


def prompt_for(ws: "Workspace", agent: Agent, template: str) -> str:
    text = agent_text(agent.name, agent.description, agent.sub_heading, agent.categories, agent.short_title)
    return render_prompt(template_text(ws, template), text)


def make_spec(
    ws: "Workspace",
    agent: Agent,
    *,
    provider: str,
    template: str | None = None,
    prompt: str | None = None,
    palette: Palette | str | None = None,
    **choices: Any,
) -> GenerationSpec:
    """A validated recipe; the prompt is rendered from the template unless given.
    `palette` may be a Palette, or a preset name or colours as text (see `parse_palette`)."""
    if isinstance(palette, str):
        palette = parse_palette(palette)
    cls = provider_class(provider)
    defaults = cls.recipe_defaults(choices.get("model"))  # e.g. app-store at 4:3 for Flux
    template = template or defaults["template"]
    if choices.get("aspect_ratio") is None:
        choices["aspect_ratio"] = defaults["aspect_ratio"]
    prompt = prompt if prompt is not None else prompt_for(ws, agent, template)
    if not prompt.strip():
        raise InvalidInput("The prompt is empty: write one, or press Reset to template.")
    if len(prompt) > (limit := prompt_limit(provider)):
        raise InvalidInput(f"The prompt has {len(prompt):,} characters; {cls.label} takes at most {limit:,}. Shorten it.")
    try:
        return GenerationSpec(
            provider=provider,
            template=template,
            prompt=prompt,
            palette=palette or BRAND,
            **{k: v for k, v in choices.items() if v is not None},
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        raise InvalidInput(f"Recipe refused: {where}: {message}" if where else f"Recipe refused: {message}") from None
