"""Untrusted text (agent names, descriptions, categories, template names) in Markdown-rendering elements."""

from __future__ import annotations

import re

# CommonMark lets any ASCII punctuation be backslash-escaped. Escaping it all (but a hyphen
# inside a word, which starts nothing) leaves no link, emphasis, HTML tag, Streamlit directive
# (:red[...], :material/...:) or autolink (http\:\/\/, www\., a\@b) to parse.
_PUNCTUATION = re.compile(r"([!-,./:-@\[-`{-~]|^-)")


def literal(text: str) -> str:
    """Markdown source that renders as exactly `text`, on one line."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))
