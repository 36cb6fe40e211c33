"""The offline renderer's benchmark (issue 12): diversity, speed, relevance, a contact sheet.

    .venv/bin/python bench/renderer.py

Prints figures and writes artifacts/renderer-contact-sheet.png (the 19 store agents x 4
candidates) and artifacts/renderer-relevance.md (agent -> subject). Never fails because a
machine is slow. "Before" is the renderer as it was before issue 12, read from git history.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from imagegen.palettes import BRAND  # noqa: E402
from imagegen.prompts import POP_ART, agent_text, render_prompt  # noqa: E402
from imagegen.providers.local import choose_subject  # noqa: E402
from imagegen.records import aspect_size  # noqa: E402
from imagegen.render import render_png, render_thumbnail  # noqa: E402
from imagegen.render.measure import mean_pairwise_distance  # noqa: E402

STORE_CSV = ROOT.parent / "shared" / "data" / "autogpt-store-agents.csv"
BEFORE_COMMIT = "96635a0"  # the last commit with the single-template renderer
ARTIFACTS = ROOT / "artifacts"
COLOURS = [(c.rgb, c.weight) for c in BRAND.colors]


def store_agents():
    if not STORE_CSV.exists():
        return []
    with STORE_CSV.open(encoding="utf-8") as fh:
        return [agent_text(r["agent_name"], r["description"], r["sub_heading"], [c for c in json.loads(r["categories"] or "[]") if c]) for r in csv.DictReader(fh)]


def sample_agents():
    data = json.loads((ROOT / "imagegen" / "sample_agents.json").read_text(encoding="utf-8"))
    return [agent_text(a["name"], a.get("description", ""), a.get("sub_heading", ""), a.get("categories", [])) for a in data]


def subject_of(agent):
    return choose_subject(agent, render_prompt(POP_ART, agent))


def candidates(agent, n=8, size=(1280, 720)):
    subject = subject_of(agent).subject
    return [render_thumbnail(agent.name, colours=COLOURS, size=size, seed=1000 + i, subject=subject, short_title=agent.short_title).image for i in range(n)]


def old_renderer():
    """The renderer before issue 12, loaded from git so the comparison stays reproducible."""
    try:
        source = subprocess.run(["git", "show", f"{BEFORE_COMMIT}:imagegen/popart.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("popart_before")
    module.__file__ = str(ROOT / "imagegen" / "popart.py")  # so it finds the shipped font
    exec(compile(source, "popart_before.py", "exec"), module.__dict__)
    return module


def diversity(label, agents) -> None:
    before = old_renderer()
    after_scores, before_scores = [], []
    for a in agents:
        after_scores.append(mean_pairwise_distance(candidates(a)))
        if before:
            cats = tuple(c.strip() for c in a.categories.split(",") if c.strip())
            ims = [before.render(a.name, palette=BRAND, size=(1280, 720), seed=1000 + i, categories=cats, keywords=f"{a.sub_heading} {a.description}") for i in range(8)]
            before_scores.append(mean_pairwise_distance(ims))
    line = f"diversity, {label} ({len(agents)} agents x 8): mean pairwise dHash after {statistics.mean(after_scores):5.1f} bits (min {min(after_scores):4.1f})"
    if before_scores:
        line += f", before {statistics.mean(before_scores):5.1f} bits (min {min(before_scores):4.1f})"
    verdict = "OK" if statistics.mean(after_scores) >= 30 else "UNDER TARGET"
    print(f"{line}  target >= 30  {verdict}")


def speed(encode_levels: bool = True) -> tuple[float, float]:
    """Median and p90 in ms of one 1280x720 candidate, drawn and PNG encoded; prints them."""
    size = aspect_size("16x9")
    args = ("YouTube Transcription Scraper", COLOURS, size)
    for seed in range(6):  # warm the font cache and every family once
        render_png(*args, seed, "video")
    samples = []
    for seed in range(60):
        start = time.perf_counter()
        render_png(*args, 100 + seed, "video")
        samples.append(time.perf_counter() - start)
    med, p90 = statistics.median(samples) * 1000, sorted(samples)[int(len(samples) * 0.9)] * 1000
    verdict = "OK" if med <= 60 and p90 <= 2 * med else "OVER TARGET"
    print(f"renderer 1280x720 draw + PNG (level 1): median {med:6.1f} ms  p90 {p90:6.1f} ms  target median <= 60, p90 <= 2x median  {verdict}")
    if not encode_levels:
        return med, p90
    # Why level 1: the encode alone, by level, on one candidate.
    image = render_thumbnail(args[0], colours=COLOURS, size=size, seed=3, subject="video").image
    for level in (0, 1, 3, 6, 9):
        times, nbytes = [], 0
        for _ in range(10):
            out = io.BytesIO()
            start = time.perf_counter()
            image.save(out, "PNG", compress_level=level)
            times.append(time.perf_counter() - start)
            nbytes = out.tell()
        print(f"  PNG encode level {level}: median {statistics.median(times) * 1000:6.1f} ms, {nbytes / 1024:6.0f} KiB")
    return med, p90


def relevance(agents) -> str:
    rows = ["| agent | subject | picked by |", "|---|---|---|"]
    for a in agents:
        choice = subject_of(a)
        rows.append(f"| {a.name} | {choice.subject} | {', '.join(choice.words) or '(no keyword: generic motif)'} |")
    return "\n".join(rows)


def contact_sheet(agents, path: Path) -> None:
    tile_w, tile_h, label_w = 320, 180, 0
    sheet = Image.new("RGB", (label_w + tile_w * 4, tile_h * len(agents)), (255, 255, 255))
    for row, a in enumerate(agents):
        for col, image in enumerate(candidates(a, 4)):
            sheet.paste(image.resize((tile_w, tile_h), Image.LANCZOS), (label_w + col * tile_w, row * tile_h))
    sheet.save(path)


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}; figures from a shared 2-core machine are noisy")
    store = store_agents()
    if not store:
        print(f"{STORE_CSV} is absent: store-agent figures skipped")
    else:
        diversity("store agents", store)
    diversity("sample agents", sample_agents())
    speed()
    ARTIFACTS.mkdir(exist_ok=True)
    table = relevance(store + sample_agents())
    (ARTIFACTS / "renderer-relevance.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    if store:
        contact_sheet(store, ARTIFACTS / "renderer-contact-sheet.png")
        print(f"contact sheet: {ARTIFACTS / 'renderer-contact-sheet.png'}")
