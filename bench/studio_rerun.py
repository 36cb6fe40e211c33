"""Benchmark for the studio (issue 3): a rerun with 8 candidates on screen.

    .venv/bin/python bench/studio_rerun.py

Prints the median rerun time (target <= 300 ms), the memory growth over 100 reruns
(target < 20 MB) and how many images larger than a thumbnail Pillow opened during the
measured reruns (target 0: candidates are shown from cached 384 px thumbnails).
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["IMAGEGEN_DATA_DIR"] = tempfile.mkdtemp(prefix="studio-bench-")

import PIL.Image  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.slider(key="count").set_value(8).run()
    at.button(key="generate").click().run()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        at.run()
        if len([b for b in at.button if b.label == "Approve"]) == 8:
            break
        time.sleep(0.2)
    else:
        raise SystemExit("the 8 candidates did not land in time")
    for _ in range(5):  # warm caches
        at.run()

    opened = full_size = 0
    real_open = PIL.Image.open

    def counting_open(*args, **kwargs):
        nonlocal opened, full_size
        image = real_open(*args, **kwargs)
        opened += 1
        full_size += max(image.size) > 384  # anything bigger than a grid thumbnail
        return image

    PIL.Image.open = counting_open
    samples = []
    for _ in range(30):
        start = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - start)
    gc.collect()
    before = rss_mb()
    for _ in range(100):
        at.run()
    gc.collect()
    growth = rss_mb() - before
    PIL.Image.open = real_open

    med = statistics.median(samples) * 1000
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; AppTest reruns of app.py with 8 candidates")
    print(f"{'studio rerun, 8 candidates':<36} median {med:7.1f} ms  target <= 300 ms  {'OK' if med <= 300 else 'OVER TARGET'}")
    print(f"{'memory growth over 100 reruns':<36} {growth:7.1f} MB  target < 20 MB  {'OK' if growth < 20 else 'OVER TARGET'}")
    print(f"{'full-size images opened in reruns':<36} {full_size:7d}     target 0  {'OK' if full_size == 0 else 'OVER TARGET'}"
          f"  ({opened} thumbnail headers read by st.image)")


if __name__ == "__main__":
    main()
