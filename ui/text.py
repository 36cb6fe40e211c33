"""Untrusted text (agent names, descriptions, categories, template names) in Markdown-rendering elements."""

from __future__ import annotations

import re

# CommonMark lets any ASCII punctuation be backslash-escaped. Escaping it all (but a hyphen
# inside a word, which starts nothing) leaves no link, emphasis, HTML tag or Streamlit directive
# (:red[...], :material/...:) to parse.
_PUNCTUATION = re.compile(r"([!-,./:-@\[-`{-~]|^-)")
# GFM's autolinks (http://, https://, www., a@b.c) are found in the text after it is parsed, escapes
# and character references already undone, so no escape stops them (seen in Chromium). An invisible
# WORD JOINER breaks each pattern: `http` and `www` no longer meet their `:` or `.`, nor `@` its name.
_AUTOLINK = re.compile(r"(?i)(?<=http)(?=s?:)|(?<=www)(?=\.)|(?=@)")
WORD_JOINER = "\u2060"


def literal(text: str) -> str:
    """Markdown source that renders as exactly `text`, on one line, with no link in it."""
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, " ".join(str(text).split())))
