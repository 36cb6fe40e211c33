"""Titles: the shipped font, fitting a name into a box at a legible size, and WCAG contrast."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "DejaVuSansCondensed-Bold.ttf"
CAP_RATIO = 0.73  # cap height of the shipped font, as a fraction of its size
CARD_WIDTH = 320  # the store's card width
MIN_CARD_CAP = 10  # px of cap height at card width: the smallest legible title
MAX_LINES = 3
LINE_GAP = 1.12
# Dropped first when a name must be shortened: they carry the least meaning.
PREPOSITIONS = {"for", "with", "to", "in", "on", "by", "para", "con", "pour", "avec", "für", "mit", "для", "с"}
STOP_WORDS = {"the", "a", "an", "for", "of", "and", "to", "with", "your", "in", "on", "by", "de", "la", "le", "el", "les", "des", "du", "für", "und", "der", "die", "das", "для", "и", "в"}


@lru_cache(maxsize=128)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


def _glyph_print(ch: str) -> bytes:
    probe = Image.new("L", (48, 48))
    ImageDraw.Draw(probe).text((4, 4), ch, font=font(32), fill=255)
    return probe.tobytes()


@lru_cache(maxsize=16384)
def text_width(text: str, size: int) -> float:
    """Fitting tries many sizes and wraps; the same strings are measured again and again."""
    return font(size).getlength(text)


@lru_cache(maxsize=4096)
def has_glyph(ch: str) -> bool:
    """False for characters the shipped font lacks: they would print as empty boxes."""
    return ch.isspace() or _glyph_print(ch) != _glyph_print("\U0010fffd")


def drawable(text: str) -> str:
    return " ".join("".join(ch for ch in text if has_glyph(ch)).split())


def min_font_size(canvas_width: int, scale: int = 1) -> int:
    """The font size whose capitals are MIN_CARD_CAP px tall once the image is shown 320 px wide."""
    return int(MIN_CARD_CAP * canvas_width / CARD_WIDTH / CAP_RATIO * scale + 0.999)


@dataclass(frozen=True)
class FittedTitle:
    lines: tuple[str, ...]
    font: ImageFont.FreeTypeFont
    abbreviated: bool

    @property
    def line_height(self) -> float:
        return self.font.size * LINE_GAP

    @property
    def height(self) -> float:
        return self.line_height * len(self.lines)

    def width(self) -> float:
        return max(text_width(line, self.font.size) for line in self.lines)


def _wrap(words: list[str], size: int, box_w: float) -> list[str] | None:
    """Greedy wrap at word boundaries, or None when one word alone is wider than the box."""
    lines: list[str] = []
    for word in words:
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and text_width(trial, size) <= box_w:
            lines[-1] = trial
        elif text_width(word, size) <= box_w:
            lines.append(word)
        else:
            return None
    return lines


def _balanced(words: list[str], size: int, box_w: float, n_lines: int) -> list[str] | None:
    """Narrowest wrap with the same number of lines, so a title does not end on one stray word."""
    best = None
    lo, hi = max(text_width(x, size) for x in words), box_w
    for _ in range(6):
        mid = (lo + hi) / 2
        lines = _wrap(words, size, mid)
        if lines is not None and len(lines) <= n_lines:
            best, hi = lines, mid
        else:
            lo = mid
    return best


def _shortened(words: list[str]) -> list[list[str]]:
    """Ever shorter versions of a name, best first. The phrase before a preposition is the
    name's head ("... Report Generator" for Small Businesses); leading adjectives go before
    the head noun does; then runs of whole words with an ellipsis; last, a cut word."""
    cut = next((i for i, w in enumerate(words) if i and w.lower() in PREPOSITIONS), len(words))
    head = [w for w in words[:cut] if w.lower() not in STOP_WORDS] or words[:cut]
    core = [w for w in words if w.lower() not in STOP_WORDS] or words
    out = [core, head] + [head[i:] for i in range(1, len(head))]
    for n in range(len(core) - 1, 0, -1):
        out += [core[:n - 1] + [core[n - 1] + "…"]]
    word = core[0]
    out += [[word[:n] + "…"] for n in range(len(word) - 1, 1, -1)]
    return [c for c in out if c and c != words]


def fit_title(text: str, box_w: float, box_h: float, min_size: int, max_size: int | None = None) -> FittedTitle | None:
    """The largest size, not below `min_size`, at which `text` wraps into the box in at most
    three lines; when none exists at `min_size`, a shortened name at `min_size`."""
    words = text.split()
    if not words:
        return None

    def fits(size: int) -> list[str] | None:
        lines = _wrap(words, size, box_w)
        return lines if lines is not None and len(lines) <= MAX_LINES and len(lines) * size * LINE_GAP <= box_h else None

    # Fitting gets easier as the size falls: bisect for the largest size that fits.
    hi = int(min(max_size or box_h, box_h / LINE_GAP))
    if hi >= min_size and fits(min_size):
        lo = min_size
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
        lines = fits(lo)
        return FittedTitle(tuple(_balanced(words, lo, box_w, len(lines)) or lines), font(lo), False)
    max_lines = max(1, min(MAX_LINES, int(box_h // (min_size * LINE_GAP))))
    for candidate in _shortened(words):
        lines = _wrap(candidate, min_size, box_w)
        if lines is not None and len(lines) <= max_lines:
            return FittedTitle(tuple(lines), font(min_size), True)
    return None


# --- contrast (WCAG 2) -----------------------------------------------------------------------


def _channel(v: int) -> float:
    c = v / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb) -> float:
    r, g, b = (_channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def background_colours(region: Image.Image, ink=None, min_share: float = 0.03) -> list[tuple[int, int, int]]:
    """The colours that make up a region, ignoring the ink itself and thin anti-aliased edges."""
    colours = region.getcolors(maxcolors=region.width * region.height + 1) or []
    total = region.width * region.height
    return [c for n, c in colours if n / total >= min_share and c != (tuple(ink) if ink else None)]


def worst_contrast(region: Image.Image, ink, *, drawn: bool = True) -> float:
    """The lowest contrast between `ink` and a colour behind it. With `drawn`, the ink's own
    pixels are left out; text with nothing else around it is invisible, contrast 1."""
    colours = background_colours(region, ink if drawn else None)
    return min((contrast(ink, c) for c in colours), default=1.0)
