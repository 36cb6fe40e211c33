import asyncio
import io

import pytest
from PIL import Image, ImageChops

from imagegen.palettes import PRESETS
from imagegen.popart import FONT_PATH, render, wrap_title
from imagegen.prompts import agent_text
from imagegen.providers import ImageRequest
from imagegen.providers.local import LocalProvider
from imagegen.records import ASPECT_RATIOS, aspect_size
from imagegen.settings import Settings


def draw(seed=1, name="Trend Radar", palette="brand", aspect="16x9", categories=("research",)):
    return render(name, palette=PRESETS[palette], size=aspect_size(aspect), seed=seed, categories=categories)


def changed_fraction(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 24 else 0)
    return diff.histogram()[255] / (a.width * a.height)


def test_same_recipe_and_seed_draw_the_same_pixels():
    assert draw(seed=5).tobytes() == draw(seed=5).tobytes()


def test_different_seeds_draw_clearly_different_pictures():
    pictures = [draw(seed=s) for s in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert changed_fraction(pictures[i], pictures[j]) > 0.15


@pytest.mark.parametrize("aspect", ASPECT_RATIOS)
def test_every_aspect_ratio_is_drawn_at_its_size(aspect):
    assert draw(aspect=aspect).size == aspect_size(aspect)


def test_sizes_follow_the_ratio():
    assert aspect_size("16x9") == (1280, 720)
    assert aspect_size("4x3") == (1280, 960)
    assert aspect_size("9x16") == (720, 1280)


@pytest.mark.parametrize("palette", ["brand", "EMBER", "PASTEL", "ULTRAMARINE"])
def test_only_the_palette_colours_are_used_apart_from_smoothed_edges(palette):
    image = draw(palette=palette, seed=3)
    allowed = {c.rgb for c in PRESETS[palette].colors}
    counts = image.getcolors(maxcolors=1 << 20)
    in_palette = sum(n for n, colour in counts if colour in allowed)
    assert in_palette / (image.width * image.height) > 0.93
    # The background is the darkest palette colour.
    assert image.getpixel((2, 2)) in allowed


def test_long_names_wrap_and_shrink_inside_the_box():
    font_box = (500, 300)
    lines, font = wrap_title("THE EXTRAORDINARILY THOROUGH QUARTERLY FINANCIAL REPORT GENERATOR FOR SMALL BUSINESSES", *font_box)
    assert 2 <= len(lines) <= 4
    assert all(font.getlength(line) <= font_box[0] for line in lines)
    assert len(lines) * font.size * 1.12 <= font_box[1]


def test_one_enormous_word_shrinks_rather_than_overflows():
    lines, font = wrap_title("SUPERCALIFRAGILISTICEXPIALIDOCIOUSLYAUTOMATEDAGENT", 400, 300)
    assert lines == ["SUPERCALIFRAGILISTICEXPIALIDOCIOUSLYAUTOMATEDAGENT"]
    assert font.getlength(lines[0]) <= 400


def test_accented_cyrillic_and_greek_names_are_drawn_with_the_shipped_font():
    from imagegen.popart import has_glyph

    assert FONT_PATH.exists()
    assert all(has_glyph(ch) for ch in "КВАНТОВЫЙ ПЛАНИРОВЩИК CAFÉ CRÈME ΑΒΓΔ")
    assert not has_glyph("旅")  # the probe can tell a missing glyph


def test_local_provider_returns_pngs_with_consecutive_seeds():
    provider = LocalProvider(Settings())
    request = ImageRequest(agent=agent_text("Bug Hunter", categories=["ai"]), prompt="p", aspect_ratio="1x1", seed=10, count=2)
    results = asyncio.run(provider.generate(request))
    assert [r.seed for r in results] == [10, 11]
    assert all(Image.open(io.BytesIO(r.data)).size == (1280, 1280) for r in results)


def test_characters_the_font_lacks_are_left_out_instead_of_drawn_as_boxes():
    from imagegen.popart import drawable

    assert drawable("TRAVEL SCOUT 旅行") == "TRAVEL SCOUT"
    assert drawable("КВАНТОВЫЙ Café") == "КВАНТОВЫЙ Café"
    assert render("旅行", palette=PRESETS["brand"], size=(320, 180), seed=1).size == (320, 180)  # no title, no crash
