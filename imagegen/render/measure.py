"""Measures of a set of thumbnails, used by the renderer's tests and benchmark."""

from __future__ import annotations

from itertools import combinations

from PIL import Image


def dhash(image: Image.Image) -> int:
    """64-bit difference hash: is each pixel of a 9x8 grey copy brighter than its right neighbour."""
    small = image.convert("L").resize((9, 8), Image.LANCZOS)
    px = small.load()
    bits = 0
    for y in range(8):
        for x in range(8):
            bits = bits << 1 | (px[x, y] > px[x + 1, y])
    return bits


def mean_pairwise_distance(images: list[Image.Image]) -> float:
    """Mean Hamming distance between the dHashes of every pair: about 32 for unrelated images."""
    hashes = [dhash(im) for im in images]
    pairs = list(combinations(hashes, 2))
    return sum(bin(a ^ b).count("1") for a, b in pairs) / len(pairs)
