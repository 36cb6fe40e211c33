import pytest

from imagegen.errors import InvalidInput
from imagegen.palettes import BRAND, PRESETS, custom_palette, parse_palette


def test_brand_palette_is_the_five_store_colours_in_order():
    assert [c.hex for c in BRAND.colors] == ["#000030", "#1C0C47", "#9900FF", "#4285F4", "#FFFFFF"]


def test_all_eight_ideogram_presets_are_offered_by_name():
    assert {p.ideogram_preset for p in PRESETS.values() if p.ideogram_preset} == {
        "EMBER", "FRESH", "JUNGLE", "MAGIC", "MELON", "MOSAIC", "PASTEL", "ULTRAMARINE",
    }


def test_preset_names_are_case_insensitive():
    assert parse_palette("ember").ideogram_preset == "EMBER"
    assert parse_palette("Brand") == BRAND


def test_custom_colours_with_weights_and_short_hex():
    palette = parse_palette("#f00:0.9, 00ff00:0.3,#0000FF")
    assert [(c.hex, c.weight) for c in palette.colors] == [("#FF0000", 0.9), ("#00FF00", 0.3), ("#0000FF", 1.0)]
    assert palette.ideogram_preset is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("#12345", "not a colour"),
        ("#FF0000:0.01", "greater than or equal to 0.05"),
        ("#FF0000:1.5", "less than or equal to 1"),
        (",".join(["#000000"] * 9), "1 to 8 colours; this one has 9"),
        ("sunset", "Unknown palette 'sunset'"),
        ("", "empty"),
    ],
)
def test_bad_palettes_get_a_clear_message(text, message):
    with pytest.raises(InvalidInput, match=message):
        parse_palette(text)


def test_custom_palette_from_pickers():
    palette = custom_palette([{"hex": "#112233", "weight": 0.5}], name="mine")
    assert palette.name == "mine" and palette.colors[0].rgb == (0x11, 0x22, 0x33)
