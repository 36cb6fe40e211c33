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
        return max(self.font.getlength(line) for line in self.lines)


def _wrap(words: list[str], f: ImageFont.FreeTypeFont, box_w: float) -> list[str] | None:
    """Greedy wrap at word boundaries, or None when one word alone is wider than the box."""
    lines: list[str] = []
    for word in words:
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and f.getlength(trial) <= box_w:
            lines[-1] = trial
        elif f.getlength(word) <= box_w:
            lines.append(word)
        else:
            return None
    return lines


def _balanced(words: list[str], f, box_w: float, n_lines: int) -> list[str] | None:
    """Narrowest wrap with the same number of lines, so a title does not end on one stray word."""
    best = None
    lo, hi = max(w for w in (f.getlength(x) for x in words)), box_w
    for _ in range(8):
        mid = (lo + hi) / 2
        lines = _wrap(words, f, mid)
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
    size = int(min(max_size or box_h, box_h / LINE_GAP))
    while size >= min_size:
        f = font(size)
        lines = _wrap(words, f, box_w)
        if lines is not None and len(lines) <= MAX_LINES and len(lines) * size * LINE_GAP <= box_h:
            return FittedTitle(tuple(_balanced(words, f, box_w, len(lines)) or lines), f, False)
        size = max(int(size * 0.92), size - 1) if size > min_size else min_size - 1
    f = font(min_size)
    max_lines = max(1, min(MAX_LINES, int(box_h // (min_size * LINE_GAP))))
    for candidate in _shortened(words):
        lines = _wrap(candidate, f, box_w)
        if lines is not None and len(lines) <= max_lines:
            return FittedTitle(tuple(lines), f, candidate != words)
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
