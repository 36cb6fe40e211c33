"""Hostile files a curator may drop on the app: each is one clear line, never a traceback."""

import io

import pytest
from PIL import Image

from imagegen.catalog import parse_catalog
from imagegen.errors import InvalidImage, InvalidInput
from imagegen.images import read_recipe


def test_a_decompression_bomb_dropped_for_recall_is_one_clear_error():
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")  # 400 Mpx, a few kB on disk
    with pytest.raises(InvalidImage, match="too large"):
        read_recipe(out.getvalue())


@pytest.mark.parametrize("body", [b'{"agents": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", b"[" * 100_000 + b"]" * 100_000])
def test_a_deeply_nested_json_catalog_is_one_clear_error(body):
    with pytest.raises(InvalidInput, match="nested too deeply"):
        parse_catalog(body, "deep.json")
