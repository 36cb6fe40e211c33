"""The offline renderer: flat retro-futuristic pop-art thumbnails drawn with Pillow.

A thumbnail is a sunburst on the darkest colour, a planet with an orbit, scattered motifs
chosen by the agent's category, a pictogram chosen by keywords in its text, and the name
in bold type with a hard offset shadow. Only the palette's colours are used, in solid
fills. Drawing happens at twice the size and is reduced once, which smooths the edges.
Everything random comes from one `random.Random` seeded by the recipe, so a recipe and a
seed always give the same picture.
"""

from __future__ import annotations

import colorsys
import math
import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from imagegen.records import Palette

FONT_PATH = Path(__file__).resolve().parent / "assets" / "fonts" / "DejaVuSansCondensed-Bold.ttf"
SCALE = 2  # supersampling factor

RGB = tuple[int, int, int]

# Keywords in an agent's name or text pick the pictogram; the first match wins.
ICON_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("play", ("video", "youtube", "film", "movie", "stream", "tiktok", "reel")),
    ("mail", ("email", "e-mail", "mail", "newsletter", "inbox")),
    ("chat", ("chat", "message", "conversation", "support", "reply", "comment", "discord", "slack")),
    ("lens", ("search", "research", "find", "scrape", "scraper", "discover", "seo", "lookup")),
    ("chart", ("data", "analytics", "report", "metric", "finance", "stock", "market", "sales", "trend")),
    ("code", ("code", "developer", "github", "api", "program", "debug", "sql")),
    ("picture", ("image", "photo", "picture", "art", "design", "thumbnail", "visual", "draw")),
    ("note", ("music", "audio", "song", "podcast", "voice", "sound", "speech", "transcri")),
    ("pencil", ("write", "writer", "blog", "content", "copy", "article", "story", "post", "text")),
    ("calendar", ("calendar", "schedule", "meeting", "plan", "event", "task", "todo", "productiv")),
    ("globe", ("web", "site", "travel", "translat", "language", "global", "news")),
)

# Categories pick the scattered motifs.
CATEGORY_MOTIFS: dict[str, tuple[str, ...]] = {
    "creative": ("sparkles", "blobs"),
    "research": ("rings", "dots"),
    "productivity": ("grid", "plus"),
    "marketing": ("zigzag", "sparkles"),
    "writing": ("lines", "dots"),
    "social": ("blobs", "plus"),
    "data": ("grid", "dots"),
    "ai": ("rings", "sparkles"),
    "business": ("zigzag", "grid"),
}
DEFAULT_MOTIFS = ("sparkles", "rings")


@lru_cache(maxsize=64)
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


def pick_icon(*texts: str) -> str:
    """The pictogram for the first text (name, then the rest) that mentions a keyword."""
    for text in texts:
        lowered = text.lower()
        for icon, words in ICON_KEYWORDS:
            if any(w in lowered for w in words):
                return icon
    return "robot"


def pick_motifs(categories: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    motifs: list[str] = []
    for cat in categories:
        for motif in CATEGORY_MOTIFS.get(cat.strip().lower(), ()):
            if motif not in motifs:
                motifs.append(motif)
    return tuple(motifs[:3]) or DEFAULT_MOTIFS


def _luminance(c: RGB) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def colour_roles(palette: Palette, rng: random.Random | None = None) -> dict[str, RGB]:
    """Give each palette colour a job. Palettes under three colours gain black and white.

    With `rng`, the middle colours trade jobs, so seeds differ in colour as well as layout."""
    colours = list(dict.fromkeys(c.rgb for c in palette.colors))
    if len(colours) < 3:
        colours += [c for c in ((0, 0, 0), (255, 255, 255)) if c not in colours]
    by_light = sorted(colours, key=_luminance)
    dark, light = by_light[0], by_light[-1]
    middle = by_light[1:-1] or [light]
    # The accent is the most saturated middle colour; the ray colour the darkest of the rest.
    accent = max(middle, key=lambda c: colorsys.rgb_to_hsv(*(v / 255 for v in c))[1])
    rest = [c for c in middle if c != accent] or [accent]
    if rng is not None and len(middle) > 1:
        order = middle[:]
        rng.shuffle(order)
        accent, rest = order[0], order[1:]
    return {
        "background": dark,
        "rays": rest[0],
        "accent": accent,
        "second": rest[-1],
        "ink": light,
        "shadow": dark,
    }


def render(
    name: str,
    *,
    palette: Palette,
    size: tuple[int, int],
    seed: int,
    categories: tuple[str, ...] = (),
    keywords: str = "",
) -> Image.Image:
    rng = random.Random(f"{seed}|{name}|{palette.model_dump_json()}|{size}")
    roles = colour_roles(palette, rng)
    w, h = size[0] * SCALE, size[1] * SCALE
    im = Image.new("RGB", (w, h), roles["background"])
    draw = ImageDraw.Draw(im)

    landscape = w >= h * 1.15
    if landscape and rng.random() < 0.5:
        art_box = (w * 0.52, 0, w, h)
        text_box = (w * 0.05, h * 0.12, w * 0.50, h * 0.88)
    elif landscape:
        art_box = (0, 0, w * 0.48, h)
        text_box = (w * 0.52, h * 0.12, w * 0.96, h * 0.88)
    else:
        art_box = (0, 0, w, h * 0.58)
        text_box = (w * 0.07, h * 0.60, w * 0.93, h * 0.94)
    cx = (art_box[0] + art_box[2]) / 2 + rng.uniform(-0.05, 0.05) * w
    cy = (art_box[1] + art_box[3]) / 2 + rng.uniform(-0.05, 0.05) * h

    _sunburst(draw, (cx, cy), max(w, h) * 1.5, rng.choice((12, 16, 18, 24)), rng.uniform(0, math.pi), roles["rays"])
    spot = _spot_finder(rng, (w, h), text_box)
    for motif in pick_motifs(categories):
        MOTIFS[motif](draw, rng, spot, (w, h), roles)
    radius = min(art_box[2] - art_box[0], art_box[3] - art_box[1]) * rng.uniform(0.30, 0.36)
    rng.choice((_planet, _planet, _badge))(draw, rng, (cx, cy), radius, roles)
    ICONS[pick_icon(name, keywords)](draw, (cx, cy), radius * 0.62, roles)
    _title(draw, name, text_box, roles, rng)
    return im.reduce(SCALE)


# --- backgrounds and motifs --------------------------------------------------------------


def _spot_finder(rng: random.Random, size, keep_out):
    """A point for a motif, away from the title box where possible (a few bounded tries)."""
    w, h = size
    x0, y0, x1, y1 = keep_out

    def spot(fx: float = 1.0, fy: float = 1.0) -> tuple[float, float]:
        for _ in range(12):
            x, y = rng.uniform(0, w * fx), rng.uniform(0, h * fy)
            if not (x0 - w * 0.06 < x < x1 + w * 0.02 and y0 - h * 0.08 < y < y1 + h * 0.04):
                break
        return x, y

    return spot


def _sunburst(draw: ImageDraw.ImageDraw, centre, reach: float, rays: int, offset: float, colour: RGB) -> None:
    cx, cy = centre
    step = 2 * math.pi / rays
    for i in range(0, rays, 2):
        a0, a1 = offset + i * step, offset + (i + 1) * step
        draw.polygon(
            [(cx, cy), (cx + reach * math.cos(a0), cy + reach * math.sin(a0)), (cx + reach * math.cos(a1), cy + reach * math.sin(a1))],
            fill=colour,
        )


def _planet(draw, rng: random.Random, centre, radius: float, roles) -> None:
    cx, cy = centre
    ring_w = max(4, int(radius * 0.06))
    orbit_rx, orbit_ry = radius * 1.55, radius * 0.45
    tilt_box = (cx - orbit_rx, cy - orbit_ry, cx + orbit_rx, cy + orbit_ry)
    draw.ellipse(tilt_box, outline=roles["ink"], width=ring_w)
    draw.ellipse((cx - radius * 1.12, cy - radius * 1.12, cx + radius * 1.12, cy + radius * 1.12), fill=roles["second"])
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=roles["accent"])
    # The front half of the orbit passes over the planet.
    draw.arc(tilt_box, 0, 180, fill=roles["ink"], width=ring_w)
    # The moon sits near either end of the orbit, where the pictogram cannot hide it.
    angle = rng.choice((rng.uniform(0.02, 0.12), rng.uniform(0.88, 0.98))) * math.pi
    mx, my = cx + orbit_rx * math.cos(angle), cy + orbit_ry * math.sin(angle)
    moon = radius * 0.16
    draw.ellipse((mx - moon, my - moon, mx + moon, my + moon), fill=roles["ink"], outline=roles["shadow"], width=ring_w)


def _badge(draw, rng: random.Random, centre, radius: float, roles) -> None:
    """A starburst seal, the other frame a pictogram may sit in."""
    cx, cy = centre
    points = rng.choice((12, 16, 20))
    outer = []
    for k in range(points * 2):
        rad = radius * (1.25 if k % 2 == 0 else 1.08)
        a = k * math.pi / points
        outer.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    draw.polygon(outer, fill=roles["second"])
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=roles["accent"], outline=roles["ink"], width=max(4, int(radius * 0.05)))


def _sparkles(draw, rng, spot, size, roles) -> None:
    w, h = size
    for _ in range(rng.randint(5, 9)):
        (x, y), r = spot(), rng.uniform(0.012, 0.03) * w
        colour = rng.choice((roles["ink"], roles["accent"]))
        pts = []
        for k in range(8):
            rad = r if k % 2 == 0 else r * 0.28
            a = k * math.pi / 4
            pts.append((x + rad * math.cos(a), y + rad * math.sin(a)))
        draw.polygon(pts, fill=colour)


def _rings(draw, rng, spot, size, roles) -> None:
    w, h = size
    for _ in range(rng.randint(2, 4)):
        (x, y), r = spot(), rng.uniform(0.03, 0.08) * w
        for k in range(3):
            rr = r * (1 - k * 0.3)
            draw.ellipse((x - rr, y - rr, x + rr, y + rr), outline=roles["second"], width=max(3, int(w * 0.004)))


def _dots(draw, rng, spot, size, roles) -> None:
    w, h = size
    x0, y0 = spot(0.7, 0.7)
    gap = w * 0.022
    r = gap * 0.22
    for i in range(7):
        for j in range(5):
            x, y = x0 + i * gap, y0 + j * gap
            draw.ellipse((x - r, y - r, x + r, y + r), fill=roles["accent"])


def _grid(draw, rng, spot, size, roles) -> None:
    w, h = size
    x0, y0 = spot(0.75, 0.75)
    cell = w * 0.03
    for i in range(4):
        for j in range(3):
            if rng.random() < 0.6:
                x, y = x0 + i * cell * 1.3, y0 + j * cell * 1.3
                draw.rectangle((x, y, x + cell, y + cell), fill=rng.choice((roles["second"], roles["accent"])))


def _plus(draw, rng, spot, size, roles) -> None:
    w, h = size
    for _ in range(rng.randint(4, 7)):
        (x, y), r = spot(), rng.uniform(0.01, 0.02) * w
        t = r * 0.35
        colour = rng.choice((roles["ink"], roles["second"]))
        draw.rectangle((x - r, y - t, x + r, y + t), fill=colour)
        draw.rectangle((x - t, y - r, x + t, y + r), fill=colour)


def _zigzag(draw, rng, spot, size, roles) -> None:
    w, h = size
    x0, y = spot(0.6, 0.9)
    step = w * 0.03
    pts = [(x0 + i * step, y + (step if i % 2 else -step) * 0.6) for i in range(12)]
    draw.line(pts, fill=roles["accent"], width=max(4, int(w * 0.008)), joint="curve")


def _blobs(draw, rng, spot, size, roles) -> None:
    w, h = size
    for _ in range(rng.randint(2, 3)):
        (x, y), r = spot(), rng.uniform(0.03, 0.06) * w
        pts = [
            (x + r * (1 + 0.25 * math.sin(3 * a)) * math.cos(a), y + r * (1 + 0.25 * math.sin(3 * a)) * math.sin(a))
            for a in (k * math.pi / 18 for k in range(36))
        ]
        draw.polygon(pts, fill=roles["second"])


def _lines(draw, rng, spot, size, roles) -> None:
    w, h = size
    x, y = spot(0.6, 0.8)
    for k in range(4):
        length = w * rng.uniform(0.08, 0.2)
        draw.rounded_rectangle((x, y + k * h * 0.03, x + length, y + k * h * 0.03 + h * 0.012), radius=h * 0.006, fill=roles["second"])


MOTIFS = {
    "sparkles": _sparkles,
    "rings": _rings,
    "dots": _dots,
    "grid": _grid,
    "plus": _plus,
    "zigzag": _zigzag,
    "blobs": _blobs,
    "lines": _lines,
}


# --- pictograms: drawn in `ink` with `shadow` outlines, centred on (cx, cy) within r --------


def _outline_width(r: float) -> int:
    return max(4, int(r * 0.09))


def _icon_play(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    draw.rounded_rectangle((cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), radius=r * 0.25, fill=roles["ink"], outline=roles["shadow"], width=lw)
    draw.polygon([(cx - r * 0.3, cy - r * 0.38), (cx - r * 0.3, cy + r * 0.38), (cx + r * 0.42, cy)], fill=roles["shadow"])


def _icon_mail(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    box = (cx - r, cy - r * 0.65, cx + r, cy + r * 0.65)
    draw.rectangle(box, fill=roles["ink"], outline=roles["shadow"], width=lw)
    draw.line([(box[0], box[1]), (cx, cy + r * 0.1), (box[2], box[1])], fill=roles["shadow"], width=lw, joint="curve")


def _icon_chat(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    draw.polygon([(cx - r * 0.5, cy + r * 0.4), (cx - r * 0.75, cy + r * 0.95), (cx - r * 0.05, cy + r * 0.4)], fill=roles["shadow"])
    draw.rounded_rectangle((cx - r, cy - r * 0.75, cx + r, cy + r * 0.5), radius=r * 0.35, fill=roles["ink"], outline=roles["shadow"], width=lw)
    for k in (-1, 0, 1):
        d = r * 0.13
        x = cx + k * r * 0.45
        draw.ellipse((x - d, cy - r * 0.12 - d, x + d, cy - r * 0.12 + d), fill=roles["shadow"])


def _icon_lens(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    lr = r * 0.6
    lx, ly = cx - r * 0.2, cy - r * 0.2
    draw.line([(lx + lr * 0.7, ly + lr * 0.7), (cx + r * 0.95, cy + r * 0.95)], fill=roles["shadow"], width=int(lw * 2.6))
    draw.ellipse((lx - lr, ly - lr, lx + lr, ly + lr), fill=roles["ink"], outline=roles["shadow"], width=lw)


def _icon_chart(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    base = cy + r * 0.8
    for k, height in enumerate((0.6, 1.1, 0.85, 1.5)):
        x = cx - r + k * r * 0.52
        draw.rectangle((x, base - r * height, x + r * 0.4, base), fill=roles["ink"], outline=roles["shadow"], width=lw)
    draw.line([(cx - r * 1.05, base), (cx + r * 1.05, base)], fill=roles["shadow"], width=lw)


def _icon_code(draw, c, r, roles) -> None:
    cx, cy = c
    lw = int(_outline_width(r) * 1.8)
    draw.line([(cx - r * 0.35, cy - r * 0.6), (cx - r * 0.9, cy), (cx - r * 0.35, cy + r * 0.6)], fill=roles["ink"], width=lw, joint="curve")
    draw.line([(cx + r * 0.35, cy - r * 0.6), (cx + r * 0.9, cy), (cx + r * 0.35, cy + r * 0.6)], fill=roles["ink"], width=lw, joint="curve")
    draw.line([(cx + r * 0.15, cy - r * 0.75), (cx - r * 0.15, cy + r * 0.75)], fill=roles["ink"], width=lw)


def _icon_picture(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    box = (cx - r, cy - r * 0.75, cx + r, cy + r * 0.75)
    draw.rectangle(box, fill=roles["ink"], outline=roles["shadow"], width=lw)
    draw.polygon([(box[0] + lw, box[3] - lw), (cx - r * 0.3, cy - r * 0.1), (cx + r * 0.2, box[3] - lw)], fill=roles["shadow"])
    draw.polygon([(cx - r * 0.05, box[3] - lw), (cx + r * 0.45, cy + r * 0.05), (box[2] - lw, box[3] - lw)], fill=roles["rays"])
    s = r * 0.16
    draw.ellipse((cx + r * 0.5 - s, cy - r * 0.4 - s, cx + r * 0.5 + s, cy - r * 0.4 + s), fill=roles["accent"], outline=roles["shadow"], width=max(2, lw // 2))


def _icon_note(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    stem = lw * 1.6
    for x in (cx - r * 0.45, cx + r * 0.55):
        draw.rectangle((x - stem / 2, cy - r * 0.7, x + stem / 2, cy + r * 0.5), fill=roles["ink"])
        draw.ellipse((x - r * 0.45, cy + r * 0.3, x + stem / 2, cy + r * 0.78), fill=roles["ink"], outline=roles["shadow"], width=lw)
    draw.polygon([(cx - r * 0.45, cy - r * 0.7), (cx + r * 0.55 + stem / 2, cy - r * 0.95), (cx + r * 0.55 + stem / 2, cy - r * 0.6), (cx - r * 0.45, cy - r * 0.35)], fill=roles["ink"])


def _icon_pencil(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    a = math.radians(-45)
    ux, uy = math.cos(a), math.sin(a)  # along the pencil
    px, py = -uy, ux  # across it
    t = r * 0.28
    tip = (cx - ux * r, cy - uy * r)
    b0 = (cx - ux * r * 0.55, cy - uy * r * 0.55)
    end = (cx + ux * r, cy + uy * r)
    body = [(b0[0] + px * t, b0[1] + py * t), (end[0] + px * t, end[1] + py * t), (end[0] - px * t, end[1] - py * t), (b0[0] - px * t, b0[1] - py * t)]
    draw.polygon(body, fill=roles["ink"], outline=roles["shadow"], width=lw)
    draw.polygon([tip, body[0], body[3]], fill=roles["shadow"])


def _icon_calendar(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    box = (cx - r * 0.9, cy - r * 0.8, cx + r * 0.9, cy + r * 0.85)
    draw.rectangle(box, fill=roles["ink"], outline=roles["shadow"], width=lw)
    draw.rectangle((box[0], box[1], box[2], cy - r * 0.35), fill=roles["shadow"])
    cell = r * 0.32
    for i in range(4):
        for j in range(3):
            x, y = box[0] + r * 0.18 + i * cell * 1.25, cy - r * 0.2 + j * cell * 1.2
            draw.rectangle((x, y, x + cell * 0.8, y + cell * 0.7), fill=roles["accent"] if (i, j) == (2, 1) else roles["rays"])


def _icon_globe(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=roles["ink"], outline=roles["shadow"], width=lw)
    draw.ellipse((cx - r * 0.45, cy - r, cx + r * 0.45, cy + r), outline=roles["shadow"], width=lw)
    draw.line([(cx - r, cy), (cx + r, cy)], fill=roles["shadow"], width=lw)
    draw.line([(cx, cy - r), (cx, cy + r)], fill=roles["shadow"], width=lw)


def _icon_robot(draw, c, r, roles) -> None:
    cx, cy = c
    lw = _outline_width(r)
    draw.line([(cx, cy - r * 0.6), (cx, cy - r * 1.0)], fill=roles["ink"], width=lw)
    s = r * 0.14
    draw.ellipse((cx - s, cy - r * 1.0 - s, cx + s, cy - r * 1.0 + s), fill=roles["ink"])
    draw.rounded_rectangle((cx - r * 0.85, cy - r * 0.6, cx + r * 0.85, cy + r * 0.75), radius=r * 0.25, fill=roles["ink"], outline=roles["shadow"], width=lw)
    e = r * 0.2
    for x in (cx - r * 0.38, cx + r * 0.38):
        draw.ellipse((x - e, cy - r * 0.12 - e, x + e, cy - r * 0.12 + e), fill=roles["shadow"])
    draw.rectangle((cx - r * 0.4, cy + r * 0.32, cx + r * 0.4, cy + r * 0.45), fill=roles["shadow"])


ICONS = {
    "play": _icon_play,
    "mail": _icon_mail,
    "chat": _icon_chat,
    "lens": _icon_lens,
    "chart": _icon_chart,
    "code": _icon_code,
    "picture": _icon_picture,
    "note": _icon_note,
    "pencil": _icon_pencil,
    "calendar": _icon_calendar,
    "globe": _icon_globe,
    "robot": _icon_robot,
}


# --- the title ---------------------------------------------------------------------------


def wrap_title(text: str, box_w: float, box_h: float, max_lines: int = 4) -> tuple[list[str], ImageFont.FreeTypeFont]:
    """The largest font size at which `text` wraps into the box; long words shrink the size."""
    words = text.split()
    size = int(box_h / 1.25)
    while size > 10:
        f = font(size)
        lines = _wrap(words, f, box_w)
        height = len(lines) * size * 1.12
        if len(lines) <= max_lines and height <= box_h and all(f.getlength(line) <= box_w for line in lines):
            return lines, f
        size = int(size * 0.9)
    f = font(10)
    return _wrap(words, f, box_w)[:max_lines], f


def _wrap(words: list[str], f: ImageFont.FreeTypeFont, box_w: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if current and f.getlength(trial) > box_w:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def _title(draw, name: str, box, roles, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    title = drawable(name.upper())  # e.g. CJK is not in the shipped font: leave it out, not boxes
    if not title:
        return
    lines, f = wrap_title(title, x1 - x0, (y1 - y0) * 0.9)
    size = f.size
    line_h = size * 1.12
    total = line_h * len(lines)
    y = y0 + (y1 - y0 - total) / 2
    shadow = max(3, int(size * 0.07))
    bar_h = max(6, int(size * 0.12))
    # A bar above the title in the accent colour, like a 1960s magazine masthead.
    draw.rectangle((x0, y - bar_h * 2.2, x0 + (x1 - x0) * rng.uniform(0.25, 0.45), y - bar_h * 1.2), fill=roles["accent"])
    for line in lines:
        draw.text((x0 + shadow, y + shadow), line, font=f, fill=roles["accent"])
        draw.text((x0, y), line, font=f, fill=roles["ink"], stroke_width=max(1, shadow // 3), stroke_fill=roles["shadow"])
        y += line_h
