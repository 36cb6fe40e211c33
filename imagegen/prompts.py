"""Prompt templates and the sanitising of agent text before it enters a prompt."""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

from imagegen.errors import InvalidInput

FIELDS = ("name", "description", "sub_heading", "categories", "subject")

POP_ART = (
    'Create a visually striking retro-futuristic vector pop art illustration prominently featuring '
    '"{name}" in bold typography. The image clearly and literally depicts a {subject}, along with '
    "recognizable objects directly associated with the primary function of a {name}. Ensure the "
    "imagery is concrete, intuitive, and immediately understandable, clearly conveying the purpose "
    "of a {name}. Maintain vibrant, limited-palette colors, sharp vector lines, geometric shapes, "
    "flat illustration techniques, and solid colors without gradients or shading. Preserve a "
    "retro-futuristic aesthetic influenced by mid-century futurism and 1960s psychedelia, "
    "prioritizing clear visual storytelling and thematic clarity above all else."
)
APP_STORE = (
    "Create a visually engaging app store thumbnail for the AI agent that highlights what it does "
    "in a clear and captivating way:\n"
    "- **Name**: {name}\n"
    "- **Description**: {description}\n"
    "Focus on showcasing its core functionality with an appealing design."
)
BUILT_IN: dict[str, str] = {"pop-art": POP_ART, "app-store": APP_STORE}

MAX_DESCRIPTION = 600
MAX_SHORT = 200

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_MD_NOISE = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)|[*_`~]{1,3}|<[^>]{1,40}>|^\s*[-=*_]{3,}\s*$")
_SPACES = re.compile(r"\s+")


def clean_text(text: str | None, limit: int) -> str:
    """Plain one-line text: no control characters, no markdown, trimmed at a sentence or word."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    text = _ANSI.sub(" ", text)
    # Control and odd space characters become spaces; newlines stay until markdown is gone.
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" and ch not in " \n" else ch for ch in text)
    text = _MD_IMAGE.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _MD_NOISE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return trim(text, limit)


def trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    sentence_end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if sentence_end >= limit // 2:
        return cut[: sentence_end + 1]
    word_end = cut.rfind(" ")
    return (cut[:word_end] if word_end > limit // 2 else cut[: limit - 1]).rstrip(",;:- ") + "…"


@dataclass(frozen=True)
class AgentText:
    name: str
    description: str
    sub_heading: str
    categories: str
    short_title: str = ""  # what goes on the image when the name is too long (the local renderer honours it)

    @property
    def subject(self) -> str:
        short = self.sub_heading or trim(self.description, MAX_SHORT)
        return f"{self.name} ({short})" if short else self.name


def agent_text(name: str, description: str = "", sub_heading: str = "", categories=()) -> AgentText:
    clean_name = clean_text(name, 120)
    if not clean_name:
        raise InvalidInput("The agent has no name to put in a prompt.")
    return AgentText(
        name=clean_name,
        description=clean_text(description, MAX_DESCRIPTION),
        sub_heading=clean_text(sub_heading, MAX_SHORT),
        categories=", ".join(clean_text(c, 40) for c in categories if clean_text(c, 40)),
    )


def check_template(template: str) -> None:
    """Refuse unknown fields and attribute or index access, naming what is allowed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidInput(f"The template has unbalanced braces ({exc}); write literal braces as {{{{ and }}}}.") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in FIELDS or spec or conversion:
            raise InvalidInput(
                f"The template uses {{{field}}}, which is not allowed: use "
                + ", ".join("{" + f + "}" for f in FIELDS)
                + "."
            )


def render_prompt(template: str, text: AgentText) -> str:
    check_template(template)
    values = {f: getattr(text, f) for f in FIELDS}
    if not values["description"]:
        values["description"] = values["sub_heading"] or values["name"]
    return template.format(**values).strip()
