"""The offline renderer: flat pop-art thumbnails drawn with Pillow, in six composition families.

The seed picks the family (consecutive seeds walk through all six, so a set of candidates
really differs), then the background, placement and colour jobs. Everything random comes
from one `random.Random` seeded by the recipe, so a recipe and a seed give the same bytes.
Colours take jobs by weight: the heaviest is the background, the next the background's
pattern, and so on, so weights set the area each colour covers. Drawing happens at twice
the size and is reduced once, which smooths the edges.

`render_thumbnail` returns the picture with what a caller (or a test) needs to check it:
the title's box, the subject's box, the contrast measured behind the title.
"""

from __future__ import annotations

import io
import math
import os
import random
import zlib
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from imagegen.render.drawings import DRAWINGS, Pen
from imagegen.render.subjects import SUBJECTS, pick_subject, words_of
from imagegen.render.text import (
    FONT_PATH,
    contrast,
    drawable,
    fit_title,
    font,
    has_glyph,
    min_font_size,
    text_width,
    worst_contrast,
)

__all__ = ["FONT_PATH", "FAMILIES", "Rendered", "SUBJECTS", "drawable", "font", "has_glyph", "pick_subject", "render", "render_thumbnail", "words_of"]

SCALE = 2  # supersampling factor
MIN_CONTRAST = 4.5
RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]


@dataclass
class Rendered:
    image: Image.Image
    family: str
    background: str
    subject: str
    title_lines: tuple[str, ...]
    title_box: Box | None  # in output pixels; includes the plate when there is one
    subject_box: Box
    decoration_boxes: list[Box] = field(default_factory=list)
    contrast: float = 0.0  # title ink against the rendered pixels behind it
    cap_height: float = 0.0  # of the title's capitals, in output pixels
    plate: bool = False


@dataclass
class Roles:
    background: RGB
    pattern: RGB
    frame: RGB
    ink: RGB  # the subject's body
    line: RGB
    accent: RGB
    all: tuple[RGB, ...]


def colour_roles(colours: list[tuple[RGB, float]], rng: random.Random) -> Roles:
    """Jobs by weight: heavier colours get the larger areas (background, pattern, frame)."""
    ranked = [c for c, _ in sorted(colours, key=lambda cw: -cw[1])]
    ranked = list(dict.fromkeys(ranked))
    for extra in ((0, 0, 0), (255, 255, 255)):  # one- and two-colour palettes still need contrast
        if len(ranked) < 3 and extra not in ranked:
            ranked.append(extra)
    bg, pattern = ranked[0], ranked[1]
    frame = ranked[2] if len(ranked) > 2 else ranked[0]
    others = ranked[3:] or ranked[:3]
    ink = max(others, key=lambda c: contrast(c, frame) + rng.random() * 0.5)
    line = max(ranked, key=lambda c: contrast(c, ink))
    accent = max(ranked, key=lambda c: (c not in (ink, line, frame), contrast(c, frame) * 0.3 + rng.random()))
    return Roles(bg, pattern, frame, ink, line, accent, tuple(ranked))


# --- backgrounds: each covers about `share` of the canvas with the pattern colour ------------


def bg_flat(im, draw, rng, roles, share):
    pass


def bg_rays(im, draw, rng, roles, share):
    w, h = im.size
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.choice((rng.uniform(0, 0.3), rng.uniform(0.7, 1.0))) * h
    rays, offset, reach = rng.choice((10, 14, 18)), rng.uniform(0, math.pi), max(w, h) * 2
    step = 2 * math.pi / rays
    for i in range(rays):
        a0 = offset + i * step
        a1 = a0 + step * share * 1.2  # the ray's angular width sets the colour's area
        draw.polygon([(cx, cy), (cx + reach * math.cos(a0), cy + reach * math.sin(a0)), (cx + reach * math.cos(a1), cy + reach * math.sin(a1))], fill=roles.pattern)


def bg_bands(im, draw, rng, roles, share):
    w, h = im.size
    period = rng.uniform(0.12, 0.3) * max(w, h)
    band = period * share * 1.2
    slant = rng.choice((0.0, 0.5, -0.5, 1.0))
    for k in range(-int(w * 2 / period), int(w * 2 / period) + 2):
        x = k * period
        draw.polygon([(x, 0), (x + band, 0), (x + band - slant * h, h), (x - slant * h, h)], fill=roles.pattern)


def bg_grid(im, draw, rng, roles, share):
    w, h = im.size
    cell = rng.uniform(0.08, 0.16) * h
    t = cell * (1 - math.sqrt(max(0.0, 1 - share * 1.1))) / 2 + 2
    for x in range(0, w + int(cell), int(cell)):
        draw.rectangle((x - t, 0, x + t, h), fill=roles.pattern)
    for y in range(0, h + int(cell), int(cell)):
        draw.rectangle((0, y - t, w, y + t), fill=roles.pattern)


def bg_halftone(im, draw, rng, roles, share):
    w, h = im.size
    gap = rng.uniform(0.045, 0.07) * h
    angle = rng.uniform(0, 2 * math.pi)
    ux, uy = math.cos(angle), math.sin(angle)
    base = math.sqrt(share * 1.2 / math.pi) * gap  # dot radius for the share, at mid gradient
    for i in range(int(w / gap) + 2):
        for j in range(int(h / gap) + 2):
            x, y = i * gap + (j % 2) * gap / 2, j * gap
            t = ((x - w / 2) * ux + (y - h / 2) * uy) / max(w, h) + 0.5  # 0..1 along the gradient
            r = base * (0.3 + 1.4 * max(0.0, min(1.0, t)))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=roles.pattern)


def bg_noise(im, draw, rng, roles, share):
    """Soft blobs: coarse random values, smoothly enlarged and cut at the share's quantile.
    Paints the whole canvas, so it must come first."""
    w, h = im.size
    cols, rows = rng.randint(5, 9), rng.randint(3, 6)
    values = bytes(rng.randrange(256) for _ in range(cols * rows))
    field_ = Image.frombytes("L", (cols, rows), values).resize((w // 8, h // 8), Image.BICUBIC)
    hist = field_.histogram()
    cut, seen, target = 255, 0, share * 1.1 * field_.width * field_.height
    while cut > 0 and seen + hist[cut] < target:
        seen += hist[cut]
        cut -= 1
    # Drawn at half size and enlarged: it is the first layer, and masks at full size are slow.
    mask = field_.resize((w // 2, h // 2), Image.BICUBIC).point(lambda v: 255 if v > cut else 0)
    half = Image.new("RGB", mask.size, roles.background)
    half.paste(roles.pattern, (0, 0, *mask.size), mask)
    im.paste(half.resize((w, h), Image.NEAREST))


BACKGROUNDS = {"flat": bg_flat, "rays": bg_rays, "bands": bg_bands, "grid": bg_grid, "halftone": bg_halftone, "noise": bg_noise}


# --- layouts: where the subject and the title go ----------------------------------------------


@dataclass
class Layout:
    subject_centre: tuple[float, float]
    subject_r: float
    title_box: Box
    align: str = "left"  # or "center", "right"
    backgrounds: tuple[str, ...] = ("rays", "bands", "grid", "halftone", "noise")
    frame: str = "circle"  # circle, badge, hexagon, square, slab, none
    block: Box | None = None  # the split family: the half left plain


def _inset(box: Box, fx: float, fy: float | None = None) -> Box:
    x0, y0, x1, y1 = box
    fy = fx if fy is None else fy
    dx, dy = (x1 - x0) * fx, (y1 - y0) * fy
    return x0 + dx, y0 + dy, x1 - dx, y1 - dy


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def layout_emblem(w, h, rng, flip: bool) -> Layout:
    """A centred emblem with the title beneath it (or above it)."""
    r = min(w, h) * rng.uniform(0.19, 0.23)
    margin = h * rng.uniform(0.06, 0.1)
    if not flip:
        cy = margin + r * 1.15
        title = (w * 0.06, cy + r * 1.3, w * 0.94, h * 0.95)
    else:
        cy = h - margin - r * 1.15
        title = (w * 0.06, h * 0.05, w * 0.94, cy - r * 1.3)
    return Layout((w / 2 + rng.uniform(-0.15, 0.15) * w * (w > h * 1.15), cy), r, title, "center", frame=rng.choice(("circle", "badge", "hexagon")))


def layout_split(w, h, rng, flip: bool) -> Layout:
    """Two halves, side by side or stacked: the subject on one, the title on the other."""
    landscape = w >= h * 1.15
    if landscape and rng.random() < 0.5:
        cut = w * rng.uniform(0.42, 0.52)
        subj, text = ((w - cut, 0, w, h), (0, 0, w - cut, h)) if flip else ((0, 0, cut, h), (cut, 0, w, h))
        cx, cy = _centre(subj)
    else:
        cut = h * rng.uniform(0.38, 0.46)  # the title's band
        text, subj = ((0, 0, w, cut), (0, cut, w, h)) if flip else ((0, h - cut, w, h), (0, 0, w, h - cut))
        cx, cy = w * (rng.choice((0.3, 0.5, 0.7)) if landscape else 0.5), _centre(subj)[1]
    r = min(subj[2] - subj[0], subj[3] - subj[1]) * rng.uniform(0.3, 0.36)
    block = subj if rng.random() < 0.5 else text
    return Layout((cx, cy), r, _inset(text, 0.06, 0.1), rng.choice(("left", "center")), backgrounds=("noise", "bands", "rays"), frame="none", block=block)


def layout_poster(w, h, rng, flip: bool) -> Layout:
    """A big subject and a small title tucked in a corner."""
    r = min(w, h) * rng.uniform(0.4, 0.48)  # big enough to bleed off the edge, like a poster
    left, low = flip, rng.random() < 0.6
    frame = rng.choice(("none", "circle"))
    if w >= h * 1.15:
        r = h * rng.uniform(0.38, 0.46)
        reach = r * (1.33 if frame == "circle" else 1.08) + h * 0.03  # centre to the frame's edge
        ty0, ty1 = (h * 0.5, h * 0.94) if low else (h * 0.06, h * 0.5)
        title = (w * 0.04, ty0, w * 0.42, ty1) if left else (w * 0.58, ty0, w * 0.96, ty1)
        cx = w * 0.42 + reach if left else w * 0.58 - reach
        cy = h * (0.58 if low else 0.42)
    else:
        cx = w * rng.uniform(0.45, 0.55)
        cy = h * (0.36 if low else 0.64)
        title = (w * 0.06, h * 0.7, w * 0.94, h * 0.96) if low else (w * 0.06, h * 0.04, w * 0.94, h * 0.3)
    return Layout((cx, cy), r, title, "left", frame=frame)


def layout_isometric(w, h, rng, flip: bool) -> Layout:
    """The subject standing on an isometric slab, the title across the opposite corner."""
    right, low = flip, rng.random() < 0.5
    if w >= h * 1.15:
        r = h * 0.27
        cx, cy = (w * 0.73 if right else w * 0.27), h * (0.38 if low else 0.45)
        tx0, tx1 = (w * 0.04, w * 0.52) if right else (w * 0.48, w * 0.96)
        title = (tx0, h * 0.55, tx1, h * 0.94) if low else (tx0, h * 0.06, tx1, h * 0.45)
    else:
        r = w * 0.24
        cx, cy = w * (0.62 if right else 0.38), h * 0.08 + r
        title = (w * 0.06, cy + r * 2.1, w * 0.94, h * 0.95)
    return Layout((cx, cy), r, title, "right" if right and w < h * 1.15 else "left", frame="slab")


def layout_pattern(w, h, rng, flip: bool) -> Layout:
    """A field of small marks, the subject on a tile, the title on a band across the picture."""
    top = flip
    band = h * rng.uniform(0.3, 0.38)
    title = (w * 0.04, 0, w * 0.96, band) if top else (w * 0.04, h - band, w * 0.96, h)
    free = (0, band, w, h) if top else (0, 0, w, h - band)
    r = min(free[2] - free[0], free[3] - free[1]) * 0.3
    cx = w * rng.choice((0.5, 0.3, 0.7))
    return Layout((cx, _centre(free)[1]), r, title, "center", backgrounds=("marks",), frame="square")


def layout_minimal(w, h, rng, flip: bool) -> Layout:
    """A small mark beside a big title on a quiet background."""
    r = min(w, h) * 0.17
    right, low = flip, rng.random() < 0.5
    if w >= h * 1.15:
        cx = w * 0.94 - r if right else w * 0.06 + r
        cy = h * (rng.uniform(0.7, 0.8) if low else rng.uniform(0.2, 0.3))
        title = (w * 0.06, cy + r * 1.35, w * 0.94, h * 0.92) if not low else (w * 0.06, h * 0.08, w * 0.94, cy - r * 1.35)
    else:
        cx, cy = (w * 0.92 - r if right else w * 0.08 + r), h * 0.08 + r
        title = (w * 0.08, cy + r * 1.4, w * 0.92, h * 0.92)
    return Layout((cx, cy), r, title, "right" if right else "left", backgrounds=("noise", "bands"), frame="none")


FAMILIES = {
    "emblem": layout_emblem,
    "split": layout_split,
    "poster": layout_poster,
    "isometric": layout_isometric,
    "pattern": layout_pattern,
    "minimal": layout_minimal,
}


# --- frames and decorations ---------------------------------------------------------------------


def _marks(draw, rng, roles, w, h, share):
    """Small repeated marks: the pattern family's background."""
    gap = h * rng.uniform(0.1, 0.14)
    size = gap * math.sqrt(share * 1.2) * 0.5
    shape = rng.choice(("diamond", "plus", "dot"))
    for i in range(int(w / gap) + 2):
        for j in range(int(h / gap) + 2):
            x, y = i * gap + (j % 2) * gap / 2, j * gap
            if shape == "diamond":
                draw.polygon([(x, y - size), (x + size, y), (x, y + size), (x - size, y)], fill=roles.pattern)
            elif shape == "plus":
                t = size * 0.45
                draw.rectangle((x - size, y - t, x + size, y + t), fill=roles.pattern)
                draw.rectangle((x - t, y - size, x + t, y + size), fill=roles.pattern)
            else:
                draw.ellipse((x - size, y - size, x + size, y + size), fill=roles.pattern)


def _subject_extent(kind: str, cx: float, cy: float, r: float) -> Box:
    """The box the subject and what it sits on cover (drawings stay within r, plus outline)."""
    if kind in ("circle", "badge", "hexagon", "square"):
        R = r * 1.33
        return (cx - R, cy - R, cx + R, cy + R)
    if kind == "slab":
        return (cx - r * 1.4, cy - r * 1.08, cx + r * 1.4, cy + r * 2.0)
    R = r * 1.08
    return (cx - R, cy - R, cx + R, cy + R)


def _frame(draw, rng, roles, kind, centre, r) -> None:
    """Draw what the subject sits on."""
    cx, cy = centre
    R = r * 1.3
    if kind == "circle":
        draw.ellipse((cx - R, cy - R, cx + R, cy + R), fill=roles.frame, outline=roles.line, width=max(4, int(r * 0.05)))
    elif kind == "badge":
        n = rng.choice((12, 16, 20))
        pts = [(cx + R * (1 if k % 2 == 0 else 0.88) * math.cos(k * math.pi / n), cy + R * (1 if k % 2 == 0 else 0.88) * math.sin(k * math.pi / n)) for k in range(2 * n)]
        draw.polygon(pts, fill=roles.frame)
    elif kind == "hexagon":
        draw.regular_polygon((cx, cy, R), 6, rotation=rng.choice((0, 30)), fill=roles.frame, outline=roles.line, width=max(4, int(r * 0.05)))
    elif kind == "square":
        draw.rounded_rectangle((cx - R, cy - R, cx + R, cy + R), radius=R * 0.2, fill=roles.frame, outline=roles.line, width=max(4, int(r * 0.05)))
    elif kind == "slab":
        # An isometric block: top face, left and right faces, the subject standing on top.
        top_y = cy + r * 0.9
        dx, dy, depth = r * 1.35, r * 0.6, r * 0.45
        top = [(cx, top_y - dy), (cx + dx, top_y), (cx, top_y + dy), (cx - dx, top_y)]
        draw.polygon([top[3], top[2], (cx, top_y + dy + depth), (cx - dx, top_y + depth)], fill=roles.line)
        draw.polygon([top[2], top[1], (cx + dx, top_y + depth), (cx, top_y + dy + depth)], fill=roles.accent)
        draw.polygon(top, fill=roles.frame)


def _sparkles(draw, rng, roles, area: Box, avoid: list[Box], r_unit: float) -> list[Box]:
    """A few four-point sparkles near the subject, never inside `avoid` (the title)."""
    boxes = []
    for _ in range(rng.randint(2, 5)):
        s = r_unit * rng.uniform(0.08, 0.16)
        x, y = rng.uniform(area[0] + s, area[2] - s), rng.uniform(area[1] + s, area[3] - s)
        box = (x - s, y - s, x + s, y + s)
        if any(_overlaps(box, a, margin=s) for a in avoid):
            continue
        pts = [(x + (s if k % 2 == 0 else s * 0.25) * math.cos(k * math.pi / 4), y + (s if k % 2 == 0 else s * 0.25) * math.sin(k * math.pi / 4)) for k in range(8)]
        draw.polygon(pts, fill=rng.choice((roles.accent, roles.ink)))
        boxes.append(box)
    return boxes


def _overlaps(a: Box, b: Box, margin: float = 0.0) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


# --- the title ----------------------------------------------------------------------------------


def _place_title(im, draw, rng, roles: Roles, title: str, box: Box, align: str, avoid: Box):
    """Fit, choose an ink with contrast against what is already drawn, add a plate if needed."""
    x0, y0, x1, y1 = box
    pad = (y1 - y0) * 0.04
    fitted = fit_title(title, x1 - x0 - 2 * pad, y1 - y0 - 2 * pad, min_font_size(im.width // SCALE, SCALE), int(im.height * 0.2))
    if fitted is None:
        return None
    tw, th = fitted.width(), fitted.height
    slack = x1 - x0 - 2 * pad - tw
    tx = x0 + pad + {"left": 0, "center": slack / 2, "right": slack}[align]
    ty = y0 + (y1 - y0 - th) / 2
    text_box = (tx, ty, tx + tw, ty + th)
    region = im.crop(tuple(int(v) for v in text_box)).reduce(4)
    ink = max(roles.all, key=lambda c: worst_contrast(region, c, drawn=False))
    plate = None
    if worst_contrast(region, ink, drawn=False) < MIN_CONTRAST:
        candidates = list(roles.all) + [(0, 0, 0), (255, 255, 255)]
        # On-palette pairs first; black or white only when the palette has no pair that reads.
        ink, plate_colour = max(((a, b) for a in candidates for b in candidates if a != b), key=lambda ab: (contrast(*ab) >= MIN_CONTRAST and ab[0] in roles.all and ab[1] in roles.all, contrast(*ab)))
        m = fitted.font.size * 0.3
        plate = (tx - m, ty - m * 0.8, tx + tw + m, ty + th + m * 0.4)
        if _overlaps(plate, avoid):  # keep the plate off the subject: shrink it to the text's own box
            plate = text_box
        draw.rounded_rectangle(plate, radius=m * 0.6, fill=plate_colour)
    y = ty
    for line in fitted.lines:
        lx = tx + {"left": 0, "center": 0.5, "right": 1}[align] * (tw - text_width(line, fitted.font.size))
        draw.text((lx, y), line, font=fitted.font, fill=ink)
        y += fitted.line_height
    return fitted, ink, plate or text_box, text_box, plate is not None


# --- the render -------------------------------------------------------------------------------


def render_thumbnail(
    name: str,
    *,
    colours: list[tuple[RGB, float]],
    size: tuple[int, int],
    seed: int,
    subject: str = "robot",
    short_title: str = "",
) -> Rendered:
    """One thumbnail. `colours` are (rgb, weight) pairs; `subject` one of SUBJECTS."""
    rng = random.Random(f"{seed}|{name}|{short_title}|{colours}|{size}|{subject}")
    turn = seed + zlib.crc32(name.encode())
    family = list(FAMILIES)[turn % len(FAMILIES)]
    roles = colour_roles(colours, rng)
    total = sum(w for _, w in colours) or 1.0
    weights = sorted((w for _, w in colours), reverse=True)
    share = (weights[1] / total) if len(weights) > 1 else 0.3
    w, h = size[0] * SCALE, size[1] * SCALE
    im = Image.new("RGB", (w, h), roles.background)
    draw = ImageDraw.Draw(im)
    # Each round of six families mirrors the last, so a family's repeat looks different.
    lay = FAMILIES[family](w, h, rng, (turn // len(FAMILIES)) % 2 == 1)
    # A big disc behind a poster's subject takes the pattern colour instead of a background.
    big_disc = family == "poster" and lay.frame == "circle"
    if big_disc:
        roles.frame = roles.pattern
    background = rng.choice(lay.backgrounds)
    if background in ("grid", "marks"):
        # Fine patterns average out at thumbnail size; one large disc gives the picture a shape.
        R = math.sqrt(share * 0.6 * w * h / math.pi)  # the disc takes part of the colour's share
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        draw.ellipse((x - R, y - R, x + R, y + R), fill=roles.pattern)
    third = weights[2] / total if len(weights) > 2 else 0.15
    if big_disc:  # the disc has the pattern colour: the background pattern takes the third colour
        BACKGROUNDS[background](im, draw, rng, _with_pattern(roles, roles.accent), third)
    elif background == "marks":
        _marks(draw, rng, roles, w, h, share * 0.5)
    elif background == "grid":
        BACKGROUNDS[background](im, draw, rng, roles, share * 0.5)
    elif family == "split":  # half the canvas patterned at twice the share, the other half plain
        BACKGROUNDS[background](im, draw, rng, roles, min(0.6, share * 2))
    else:
        BACKGROUNDS[background](im, draw, rng, roles, share)
    cx, cy = lay.subject_centre
    r = lay.subject_r
    while _overlaps(_subject_extent(lay.frame, cx, cy, r), lay.title_box, margin=h * 0.02) and r > h * 0.05:
        r *= 0.93  # the title has the last word: the subject shrinks until they are apart
    if family == "pattern":  # a plain band across the field of marks, for the title
        x0, y0, x1, y1 = lay.title_box
        draw.rectangle((0, y0, w, y1), fill=roles.background)
        draw.rectangle((0, y0 if y0 > 0 else y1 - h * 0.012, w, y0 + h * 0.012 if y0 > 0 else y1), fill=roles.accent)
    if lay.block:  # the plain half, with soft blobs of the third colour so it is not empty
        x0, y0, x1, y1 = (int(v) for v in lay.block)
        plain = Image.new("RGB", (x1 - x0, y1 - y0), roles.background)
        bg_noise(plain, None, rng, _with_pattern(roles, roles.frame), third)
        im.paste(plain, (x0, y0))
    _frame(draw, rng, roles, lay.frame, (cx, cy), r)
    subject_box = _subject_extent(lay.frame, cx, cy, r)
    decorations = _sparkles(draw, rng, roles, _inset(subject_box, -0.25), [lay.title_box], r) if lay.frame != "none" else []
    on_frame = lay.frame in ("circle", "badge", "hexagon", "square")
    ink_bg = roles.frame if on_frame else roles.background
    ink = max(roles.all, key=lambda c: contrast(c, ink_bg) + rng.random())
    # Outlines must read against the ink and, on a bare background, against the background too.
    line = max(roles.all, key=lambda c: min(contrast(c, ink), contrast(c, roles.background) if not on_frame else 21))
    accent = max(roles.all, key=lambda c: (c not in (ink, line, ink_bg), rng.random()))
    DRAWINGS[subject](Pen(draw, cx, cy, r, ink, line, accent))

    title = drawable((short_title or name).upper() if rng.random() < 0.75 or family != "minimal" else (short_title or name))
    placed = _place_title(im, draw, rng, roles, title, lay.title_box, lay.align, subject_box) if title else None
    out = im.reduce(SCALE)
    result = Rendered(out, family, background, subject, (), None, _scaled(subject_box, w, h), [_scaled(b, w, h) for b in decorations])
    if placed:
        fitted, title_ink, title_box, text_box, result.plate = placed
        result.title_lines = fitted.lines
        result.title_box = _scaled(title_box, w, h)
        result.cap_height = fitted.font.size * 0.73 / SCALE
        result.contrast = worst_contrast(out.crop(tuple(int(v) for v in _scaled(text_box, w, h))), title_ink)
    return result


def _with_pattern(roles: Roles, colour: RGB) -> Roles:
    return Roles(roles.background, colour, roles.frame, roles.ink, roles.line, roles.accent, roles.all)


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _scaled(box: Box, w: int, h: int) -> Box:
    return tuple(max(0.0, min(lim, v / SCALE)) for v, lim in zip(box, (w / SCALE, h / SCALE, w / SCALE, h / SCALE)))  # type: ignore[return-value]


def render(name: str, *, palette, size: tuple[int, int], seed: int, categories: tuple[str, ...] = (), keywords: str = "", subject: str | None = None, short_title: str = "") -> Image.Image:
    """The picture alone, for callers that do not check the layout (benchmarks, fakes)."""
    if subject is None:
        subject = pick_subject(name=name, description=keywords, categories=" ".join(categories)).subject
    colours = [(c.rgb, c.weight) for c in palette.colors]
    return render_thumbnail(name, colours=colours, size=size, seed=seed, subject=subject, short_title=short_title).image


def render_png(name: str, colours: list[tuple[RGB, float]], size: tuple[int, int], seed: int, subject: str, short_title: str = "") -> tuple[bytes, int]:
    """A candidate as PNG bytes, plus the pid that drew it; runs in the renderer's worker processes.

    PNG level 1 without filter search: candidates are thumbnails-to-be (the store copy is
    normalised on approval), and flat colour compresses well even at the fastest level.
    Higher levels cost several times the encode time for a few per cent of bytes."""
    image = render_thumbnail(name, colours=colours, size=size, seed=seed, subject=subject, short_title=short_title).image
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue(), os.getpid()
