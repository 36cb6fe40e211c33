"""The offline renderer's old name, kept for callers that import from it."""

from imagegen.render import FONT_PATH, drawable, font, has_glyph, render

__all__ = ["FONT_PATH", "drawable", "font", "has_glyph", "render"]
