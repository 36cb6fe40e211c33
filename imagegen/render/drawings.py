"""The 40 subjects as flat pictograms, drawn in unit coordinates (-1..1) around a centre.

Every drawing stays inside the unit square, so its box is known without measuring pixels:
the layout keeps the title out of that box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import ImageDraw

RGB = tuple[int, int, int]


@dataclass
class Pen:
    draw: ImageDraw.ImageDraw
    cx: float
    cy: float
    r: float
    ink: RGB  # the body of the pictogram
    line: RGB  # outlines and details
    accent: RGB

    @property
    def lw(self) -> int:
        return max(3, int(self.r * 0.07))

    def p(self, x: float, y: float) -> tuple[float, float]:
        return self.cx + x * self.r, self.cy + y * self.r

    def box(self, x0, y0, x1, y1):
        return (*self.p(x0, y0), *self.p(x1, y1))

    def colour(self, name: str) -> RGB:
        return {"ink": self.ink, "line": self.line, "accent": self.accent}[name]

    def rect(self, x0, y0, x1, y1, fill="ink", radius=0.0, outline=True):
        self.draw.rounded_rectangle(self.box(x0, y0, x1, y1), radius=radius * self.r, fill=self.colour(fill), outline=self.line if outline else None, width=self.lw)

    def oval(self, x0, y0, x1, y1, fill="ink", outline=True):
        self.draw.ellipse(self.box(x0, y0, x1, y1), fill=self.colour(fill), outline=self.line if outline else None, width=self.lw)

    def dot(self, x, y, rad, fill="line"):
        self.draw.ellipse(self.box(x - rad, y - rad, x + rad, y + rad), fill=self.colour(fill))

    def poly(self, pts, fill="ink", outline=True):
        self.draw.polygon([self.p(*q) for q in pts], fill=self.colour(fill), outline=self.line if outline else None, width=self.lw)

    def stroke(self, pts, fill="line", width=1.0):
        self.draw.line([self.p(*q) for q in pts], fill=self.colour(fill), width=int(self.lw * width), joint="curve")

    def arc(self, x0, y0, x1, y1, start, end, fill="line", width=1.0):
        self.draw.arc(self.box(x0, y0, x1, y1), start, end, fill=self.colour(fill), width=int(self.lw * width))

    def pie(self, x0, y0, x1, y1, start, end, fill="accent"):
        self.draw.pieslice(self.box(x0, y0, x1, y1), start, end, fill=self.colour(fill), outline=self.line, width=self.lw)


def code(p: Pen):
    p.rect(-1, -0.8, 1, 0.8, radius=0.12)
    p.rect(-1, -0.8, 1, -0.5, fill="line", radius=0.12)
    p.stroke([(-0.3, -0.25), (-0.7, 0.12), (-0.3, 0.5)], width=1.6)
    p.stroke([(0.3, -0.25), (0.7, 0.12), (0.3, 0.5)], width=1.6)
    p.stroke([(0.12, -0.3), (-0.12, 0.55)], fill="accent", width=1.6)


def bug(p: Pen):
    for y in (-0.25, 0.15, 0.5):
        p.stroke([(-0.95, y - 0.15), (-0.5, y), (0.5, y), (0.95, y - 0.15)], width=1.2)
    p.stroke([(-0.2, -0.6), (-0.45, -0.95)], width=1.1)
    p.stroke([(0.2, -0.6), (0.45, -0.95)], width=1.1)
    p.oval(-0.55, -0.4, 0.55, 0.95)
    p.oval(-0.35, -0.75, 0.35, -0.25, fill="line")
    p.stroke([(0, -0.3), (0, 0.9)])
    p.dot(-0.25, 0.15, 0.1, "accent")
    p.dot(0.28, 0.5, 0.1, "accent")


def chart(p: Pen):
    for k, h in enumerate((0.5, 0.9, 0.7, 1.3)):
        x = -0.9 + k * 0.46
        p.rect(x, 0.8 - h, x + 0.34, 0.8)
    p.stroke([(-1, 0.8), (1, 0.8)])
    p.stroke([(-0.85, 0.0), (-0.3, -0.3), (0.15, -0.1), (0.75, -0.75)], fill="accent", width=1.4)
    p.poly([(0.95, -0.95), (0.55, -0.85), (0.85, -0.55)], fill="accent", outline=False)


def calendar(p: Pen):
    p.rect(-0.9, -0.75, 0.9, 0.9, radius=0.1)
    p.rect(-0.9, -0.75, 0.9, -0.35, fill="line", radius=0.1)
    for x in (-0.5, 0.5):
        p.rect(x - 0.08, -0.95, x + 0.08, -0.55, fill="accent")
    for i in range(4):
        for j in range(3):
            x, y = -0.7 + i * 0.37, -0.2 + j * 0.33
            p.rect(x, y, x + 0.25, y + 0.22, fill="accent" if (i, j) == (2, 1) else "line", outline=False)


def mail(p: Pen):
    p.rect(-1, -0.65, 1, 0.65, radius=0.06)
    p.stroke([(-1, -0.6), (0, 0.12), (1, -0.6)])
    p.stroke([(-1, 0.62), (-0.3, -0.05)])
    p.stroke([(1, 0.62), (0.3, -0.05)])
    p.oval(0.45, -0.95, 0.95, -0.45, fill="accent")


def money(p: Pen):
    p.rect(-1, -0.55, 1, 0.55, fill="accent", radius=0.08)
    p.oval(-0.45, -0.45, 0.45, 0.45)
    p.draw.text(p.p(0, 0), "$", fill=p.line, anchor="mm", font=_font(int(p.r * 0.7)))
    for y in (0.6, 0.78):
        p.oval(-0.9 + 0.05, y - 0.12, -0.25, y + 0.12)


def search(p: Pen):
    p.stroke([(0.2, 0.2), (0.9, 0.9)], width=3.2)
    p.oval(-0.9, -0.9, 0.45, 0.45)
    p.oval(-0.68, -0.68, 0.23, 0.23, fill="accent")
    p.arc(-0.6, -0.6, 0.1, 0.1, 190, 260, fill="ink", width=1.2)


def chat(p: Pen):
    p.rect(-1, -0.85, 0.55, 0.2, radius=0.3)
    p.poly([(-0.65, 0.15), (-0.85, 0.6), (-0.3, 0.15)])
    p.rect(-0.2, -0.15, 1, 0.7, fill="accent", radius=0.3)
    for k in (-0.55, -0.2, 0.15):
        p.dot(k, -0.33, 0.09)


def music(p: Pen):
    p.poly([(-0.45, -0.6), (0.85, -0.95), (0.85, -0.65), (-0.45, -0.3)], fill="line", outline=False)
    for x in (-0.45, 0.85):
        p.rect(x - 0.08, -0.6 if x < 0 else -0.9, x, 0.6, fill="line", outline=False)
        p.oval(x - 0.45, 0.4, x + 0.02, 0.8)


def video(p: Pen):
    p.rect(-1, -0.7, 1, 0.7, radius=0.2)
    p.poly([(-0.3, -0.38), (-0.3, 0.38), (0.42, 0)], fill="accent")


def camera(p: Pen):
    p.rect(-0.4, -0.75, 0.3, -0.45, fill="line", outline=False)
    p.rect(-1, -0.55, 1, 0.75, radius=0.15)
    p.oval(-0.5, -0.4, 0.5, 0.6, fill="line")
    p.oval(-0.33, -0.23, 0.33, 0.43, fill="accent")
    p.dot(0.72, -0.3, 0.09, "accent")


def translate(p: Pen):
    p.rect(-1, -0.9, 0.25, 0.2, radius=0.15)
    p.draw.text(p.p(-0.38, -0.35), "A", fill=p.line, anchor="mm", font=_font(int(p.r * 0.75)))
    p.rect(-0.2, -0.2, 1, 0.9, fill="accent", radius=0.15)
    p.draw.text(p.p(0.4, 0.35), "Я", fill=p.line, anchor="mm", font=_font(int(p.r * 0.75)))


def travel(p: Pen):
    # A plane seen from above.
    p.poly([(0, -1), (0.12, -0.8), (0.12, -0.2), (0.95, 0.25), (0.95, 0.42), (0.12, 0.15), (0.1, 0.65), (0.38, 0.88), (0.38, 0.98), (0, 0.88), (-0.38, 0.98), (-0.38, 0.88), (-0.1, 0.65), (-0.12, 0.15), (-0.95, 0.42), (-0.95, 0.25), (-0.12, -0.2), (-0.12, -0.8)])
    p.dot(0, -0.55, 0.07, "accent")


def food(p: Pen):
    p.oval(-1, -0.6, 1, 0.95, fill="accent")
    p.oval(-0.7, -0.35, 0.7, 0.7)
    p.stroke([(-0.25, -0.95), (-0.25, 0.25)], width=1.3)
    p.stroke([(0.25, -0.95), (0.25, 0.25)], width=1.3)
    p.stroke([(-0.25, -0.95), (-0.25, -0.55), (0.25, -0.55), (0.25, -0.95)], width=1.0)


def health(p: Pen):
    p.rect(-0.95, -0.95, 0.95, 0.95, radius=0.25)
    p.rect(-0.22, -0.7, 0.22, 0.7, fill="accent", outline=False)
    p.rect(-0.7, -0.22, 0.7, 0.22, fill="accent", outline=False)


def shield(p: Pen):
    p.poly([(0, -1), (0.85, -0.7), (0.8, 0.1), (0, 0.98), (-0.8, 0.1), (-0.85, -0.7)])
    p.poly([(0, -0.75), (0.6, -0.52), (0.56, 0.05), (0, 0.7)], fill="accent", outline=False)
    p.stroke([(-0.4, 0.0), (-0.1, 0.3), (0.45, -0.35)], width=1.5)


def lock(p: Pen):
    p.arc(-0.55, -1, 0.55, 0.1, 180, 360, width=2.2)
    p.stroke([(-0.55 + 0.07, -0.45), (-0.55 + 0.07, -0.05)], width=2.2)
    p.stroke([(0.55 - 0.07, -0.45), (0.55 - 0.07, -0.05)], width=2.2)
    p.rect(-0.8, -0.1, 0.8, 0.95, radius=0.12)
    p.dot(0, 0.35, 0.14)
    p.rect(-0.05, 0.35, 0.05, 0.7, fill="line", outline=False)


def document(p: Pen):
    p.poly([(-0.75, -1), (0.4, -1), (0.75, -0.65), (0.75, 1), (-0.75, 1)])
    p.poly([(0.4, -1), (0.4, -0.65), (0.75, -0.65)], fill="accent")
    for k, w in enumerate((0.9, 1.1, 1.0, 1.1, 0.7)):
        y = -0.45 + k * 0.28
        p.rect(-0.5, y, -0.5 + w, y + 0.1, fill="line", outline=False)


def spreadsheet(p: Pen):
    p.rect(-1, -0.8, 1, 0.8, radius=0.05)
    p.rect(-1, -0.8, 1, -0.45, fill="accent")
    for x in (-0.35, 0.3):
        p.stroke([(x, -0.8), (x, 0.8)])
    for y in (-0.05, 0.35):
        p.stroke([(-1, y), (1, y)])


def database(p: Pen):
    for y in (0.45, 0.0, -0.45):
        p.rect(-0.8, y - 0.25, 0.8, y + 0.45, fill="accent" if y == 0 else "ink", radius=0.0)
        p.oval(-0.8, y + 0.25, 0.8, y + 0.6, fill="accent" if y == 0 else "ink")
    p.oval(-0.8, -0.95, 0.8, -0.5)


def cloud(p: Pen):
    p.oval(-1, -0.1, -0.2, 0.7)
    p.oval(-0.55, -0.65, 0.45, 0.35)
    p.oval(0.1, -0.3, 1, 0.6)
    p.rect(-0.65, 0.1, 0.65, 0.7, outline=False)
    p.stroke([(-0.65, 0.7), (0.65, 0.7)])
    p.stroke([(0, 0.55), (0, -0.05)], fill="accent", width=1.6)
    p.stroke([(-0.22, 0.15), (0, -0.08), (0.22, 0.15)], fill="accent", width=1.6)


def rocket(p: Pen):
    p.poly([(-0.3, 0.3), (-0.7, 0.8), (-0.25, 0.7)], fill="accent")
    p.poly([(0.3, 0.3), (0.7, 0.8), (0.25, 0.7)], fill="accent")
    p.poly([(0, 1), (-0.18, 0.7), (0.18, 0.7)], fill="accent", outline=False)
    p.poly([(0, -1), (0.3, -0.55), (0.3, 0.7), (-0.3, 0.7), (-0.3, -0.55)])
    p.oval(-0.16, -0.4, 0.16, -0.08, fill="accent")


def brain(p: Pen):
    p.oval(-0.95, -0.7, 0.05, 0.55)
    p.oval(-0.05, -0.7, 0.95, 0.55)
    p.oval(-0.6, -0.95, 0.6, 0.0)
    p.oval(-0.7, 0.1, 0.7, 0.85)
    p.stroke([(0, -0.9), (0, 0.8)])
    p.arc(-0.7, -0.5, -0.1, 0.1, 200, 340)
    p.arc(0.1, -0.3, 0.7, 0.3, 200, 340)
    p.dot(0.5, -0.55, 0.1, "accent")


def robot(p: Pen):
    p.stroke([(0, -0.6), (0, -0.9)])
    p.dot(0, -0.9, 0.12, "accent")
    p.rect(-0.85, -0.6, 0.85, 0.75, radius=0.25)
    for x in (-0.38, 0.38):
        p.dot(x, -0.12, 0.17, "line")
        p.dot(x, -0.12, 0.07, "accent")
    p.rect(-0.4, 0.32, 0.4, 0.45, fill="line", outline=False)


def megaphone(p: Pen):
    p.poly([(-0.7, -0.25), (0.6, -0.85), (0.6, 0.85), (-0.7, 0.25)])
    p.rect(-0.95, -0.3, -0.6, 0.3, fill="accent")
    p.rect(-0.55, 0.25, -0.25, 0.8, fill="line", outline=False)
    for k in (-0.5, 0, 0.5):
        p.stroke([(0.75, k * 0.9), (0.98, k * 1.2)], fill="accent", width=1.2)


def cart(p: Pen):
    p.stroke([(-1, -0.75), (-0.7, -0.75), (-0.45, 0.45), (0.75, 0.45)], width=1.4)
    p.poly([(-0.62, -0.5), (0.95, -0.5), (0.78, 0.2), (-0.48, 0.2)])
    for x in (-0.35, 0.6):
        p.oval(x - 0.17, 0.58, x + 0.17, 0.92, fill="accent")


def graduation(p: Pen):
    p.poly([(-0.6, -0.05), (-0.6, 0.5), (0, 0.75), (0.6, 0.5), (0.6, -0.05)], fill="line")
    p.poly([(0, -0.75), (1, -0.2), (0, 0.3), (-1, -0.2)])
    p.stroke([(0, -0.2), (0.75, 0.05), (0.75, 0.65)], fill="accent", width=1.2)
    p.dot(0.75, 0.72, 0.1, "accent")


def pin(p: Pen):
    p.poly([(-0.55, 0.0), (0, 1), (0.55, 0.0)])
    p.oval(-0.65, -0.95, 0.65, 0.35)
    p.oval(-0.27, -0.57, 0.27, -0.03, fill="accent")


def clock(p: Pen):
    p.oval(-0.95, -0.95, 0.95, 0.95)
    for k in range(12):
        a = k * math.pi / 6
        p.stroke([(0.72 * math.cos(a), 0.72 * math.sin(a)), (0.82 * math.cos(a), 0.82 * math.sin(a))])
    p.stroke([(0, 0), (0, -0.6)], width=1.6)
    p.stroke([(0, 0), (0.45, 0.2)], fill="accent", width=1.6)
    p.dot(0, 0, 0.09)


def gear(p: Pen):
    teeth = []
    for k in range(16):
        a = k * math.pi / 8
        rad = 0.98 if k % 2 == 0 else 0.75
        for da in (-0.16, 0.16):
            teeth.append((rad * math.cos(a + da), rad * math.sin(a + da)))
    p.poly(teeth)
    p.oval(-0.35, -0.35, 0.35, 0.35, fill="accent")


def lightbulb(p: Pen):
    p.oval(-0.7, -1, 0.7, 0.4)
    p.poly([(-0.42, 0.25), (0.42, 0.25), (0.3, 0.6), (-0.3, 0.6)])
    p.rect(-0.32, 0.6, 0.32, 0.95, fill="line", outline=False)
    p.stroke([(-0.2, 0.1), (-0.2, -0.3), (0.2, -0.3), (0.2, 0.1)], fill="accent", width=1.2)


def paintbrush(p: Pen):
    p.poly([(0.95, -0.95), (0.75, -0.95), (-0.15, 0.1), (0.1, 0.3)], fill="ink")
    p.poly([(-0.15, 0.1), (0.1, 0.3), (-0.2, 0.55), (-0.38, 0.35)], fill="line")
    p.poly([(-0.38, 0.35), (-0.2, 0.55), (-0.55, 0.95), (-0.95, 0.95), (-0.8, 0.6)], fill="accent")


def microphone(p: Pen):
    p.arc(-0.65, -0.55, 0.65, 0.55, 0, 180, width=1.3)
    p.stroke([(0, 0.55), (0, 0.85)], width=1.3)
    p.stroke([(-0.4, 0.88), (0.4, 0.88)], width=1.6)
    p.rect(-0.38, -1, 0.38, 0.35, radius=0.38)
    for y in (-0.55, -0.3, -0.05):
        p.stroke([(-0.2, y), (0.2, y)], fill="accent", width=1.2)


def newspaper(p: Pen):
    p.rect(-1, -0.8, 0.95, 0.8, radius=0.05)
    p.rect(-0.8, -0.6, 0.75, -0.35, fill="line", outline=False)
    p.rect(-0.8, -0.2, -0.05, 0.55, fill="accent")
    for k in range(4):
        y = -0.18 + k * 0.2
        p.rect(0.1, y, 0.75, y + 0.08, fill="line", outline=False)


def trophy(p: Pen):
    p.arc(-0.95, -0.8, -0.2, 0.1, 90, 270, width=1.4)
    p.arc(0.2, -0.8, 0.95, 0.1, 270, 90, width=1.4)
    p.poly([(-0.6, -0.85), (0.6, -0.85), (0.45, -0.05), (0, 0.25), (-0.45, -0.05)])
    p.rect(-0.12, 0.2, 0.12, 0.6, fill="line", outline=False)
    p.rect(-0.55, 0.6, 0.55, 0.95, fill="accent")
    p.dot(0, -0.45, 0.14, "accent")


def heart(p: Pen):
    p.oval(-0.95, -0.8, 0.05, 0.2, outline=False)
    p.oval(-0.05, -0.8, 0.95, 0.2, outline=False)
    p.poly([(-0.9, -0.15), (0, 0.9), (0.9, -0.15), (0, -0.5)], outline=False)
    p.oval(-0.6, -0.55, -0.3, -0.25, fill="accent", outline=False)


def leaf(p: Pen):
    p.poly([(0.9, -0.95)] + [(0.9 - 1.7 * t - 0.55 * math.sin(math.pi * t), -0.95 + 1.6 * t - 0.55 * math.sin(math.pi * t)) for t in (0.2, 0.4, 0.6, 0.8)] + [(-0.8, 0.65)] + [(0.9 - 1.7 * t + 0.55 * math.sin(math.pi * t), -0.95 + 1.6 * t + 0.55 * math.sin(math.pi * t)) for t in (0.8, 0.6, 0.4, 0.2)])
    p.stroke([(0.85, -0.9), (-0.95, 0.95)], width=1.2)


def house(p: Pen):
    p.poly([(0, -1), (1, -0.05), (-1, -0.05)], fill="accent")
    p.rect(-0.75, -0.1, 0.75, 0.95)
    p.rect(-0.2, 0.35, 0.2, 0.95, fill="line", outline=False)
    p.rect(0.35, 0.1, 0.6, 0.35, fill="accent")


def briefcase(p: Pen):
    p.rect(-0.35, -0.85, 0.35, -0.45, fill="line", outline=False, radius=0.1)
    p.rect(-0.2, -0.72, 0.2, -0.45, fill="accent", outline=False)
    p.rect(-1, -0.5, 1, 0.85, radius=0.12)
    p.stroke([(-1, 0.1), (1, 0.1)])
    p.rect(-0.15, -0.02, 0.15, 0.25, fill="accent")


def globe(p: Pen):
    p.oval(-0.95, -0.95, 0.95, 0.95)
    p.oval(-0.42, -0.95, 0.42, 0.95, fill="accent")
    p.stroke([(-0.95, 0), (0.95, 0)])
    p.stroke([(0, -0.95), (0, 0.95)])
    p.arc(-0.95, -1.2, 0.95, -0.2, 30, 150)
    p.arc(-0.95, 0.2, 0.95, 1.2, 210, 330)


DRAWINGS = {f.__name__: f for f in (
    code, bug, chart, calendar, mail, money, search, chat, music, video, camera, translate, travel, food, health,
    shield, lock, document, spreadsheet, database, cloud, rocket, brain, robot, megaphone, cart, graduation, pin,
    clock, gear, lightbulb, paintbrush, microphone, newspaper, trophy, heart, leaf, house, briefcase, globe,
)}


def _font(size: int):
    from imagegen.render.text import font

    return font(max(8, size))
