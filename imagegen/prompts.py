"""Prompt templates and the sanitising of agent text before it enters a prompt."""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

from imagegen.errors import InvalidInput

FIELDS = ("name", "description", "sub_heading", "categories", "subject", "title")

POP_ART = (
    'Create a visually striking retro-futuristic vector pop art illustration prominently featuring '
    '"{title}" in bold typography. The image clearly and literally depicts a {subject}, along with '
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
    "- **Name**: {title}\n"
    "- **Description**: {description}\n"
    "Focus on showcasing its core functionality with an appealing design."
)
BUILT_IN: dict[str, str] = {"pop-art": POP_ART, "app-store": APP_STORE}

MAX_DESCRIPTION = 600
MAX_SHORT = 200

# The longest prompt each provider is sent. Flux reads about 512 T5 tokens (about 2,000
# characters); Ideogram's API refuses very long prompts, and longer ones only dilute the
# subject. The local renderer ignores the prompt, so it gets the same limit for portability.
PROMPT_LIMITS = {"ideogram": 2_000, "replicate": 2_000}
DEFAULT_PROMPT_LIMIT = 2_000


def prompt_limit(provider: str) -> int:
    return PROMPT_LIMITS.get(provider, DEFAULT_PROMPT_LIMIT)


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
    def title(self) -> str:
        """The name as drawn into the image."""
        return self.short_title or self.name

    @property
    def subject(self) -> str:
        short = self.sub_heading or trim(self.description, MAX_SHORT)
        return f"{self.name} ({short})" if short else self.name


def agent_text(name: str, description: str = "", sub_heading: str = "", categories=(), short_title: str = "") -> AgentText:
    clean_name = clean_text(name, 120)
    if not clean_name:
        raise InvalidInput("The agent has no name to put in a prompt.")
    return AgentText(
        name=clean_name,
        description=clean_text(description, MAX_DESCRIPTION),
        sub_heading=clean_text(sub_heading, MAX_SHORT),
        categories=", ".join(clean_text(c, 40) for c in categories if clean_text(c, 40)),
        short_title=clean_text(short_title, 120),
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


_ARTICLE_BEFORE_FIELD = re.compile(r"\b([Aa])(n?) \{(\w+)\}")
_SOUNDS_LIKE_CONSONANT = ("uni", "use", "usu", "uti", "eu", "one", "once")


def article_for(word: str) -> str:
    """'an' before a vowel sound ("an Ai", "an Unspirational"), else 'a' ("a User Guide")."""
    low = word.lower()
    return "an" if low[:1] in "aeiou" and low[:1] and not low.startswith(_SOUNDS_LIKE_CONSONANT) else "a"


def render_prompt(template: str, text: AgentText) -> str:
    check_template(template)
    values = {f: getattr(text, f) for f in FIELDS}
    if not values["description"]:
        values["description"] = values["sub_heading"] or values["name"]

    def agree(match: re.Match) -> str:  # "a {name}" reads "an Ai" when the name starts with a vowel
        article = article_for(str(values[match[3]]))
        return (article.capitalize() if match[1] == "A" else article) + " {" + match[3] + "}"

    return _ARTICLE_BEFORE_FIELD.sub(agree, template).format(**values).strip()
