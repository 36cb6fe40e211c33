"""Palette presets and parsing of the palettes a curator types."""

from __future__ import annotations

from pydantic import ValidationError

from imagegen.errors import InvalidInput
from imagegen.records import Palette, PaletteColor


def _palette(name: str, hexes: str, preset: str | None = None) -> Palette:
    colors = hexes.split()
    # Weights descend, as Ideogram recommends: the first colour dominates.
    weights = [round(max(0.05, 1.0 - i * 0.15), 2) for i in range(len(colors))]
    return Palette(
        name=name,
        ideogram_preset=preset,
        colors=tuple(PaletteColor(hex=h, weight=w) for h, w in zip(colors, weights)),
    )


BRAND = _palette("brand", "#000030 #1C0C47 #9900FF #4285F4 #FFFFFF")

# Ideogram's eight presets are sent by name; these colours stand in for them offline.
PRESETS: dict[str, Palette] = {
    p.name: p
    for p in (
        BRAND,
        _palette("EMBER", "#2B0A05 #8C1C13 #E4572E #F6AE2D #FFF1D0", "EMBER"),
        _palette("FRESH", "#0B3C49 #2A9D8F #8AC926 #E9F5DB #FFFFFF", "FRESH"),
        _palette("JUNGLE", "#0B2012 #1B4332 #40916C #95D5B2 #F4E285", "JUNGLE"),
        _palette("MAGIC", "#1A0933 #3C1A78 #8E44AD #F72585 #FFD6FF", "MAGIC"),
        _palette("MELON", "#2D1E2F #F25F5C #FF9B85 #B8F2A6 #FFF4E0", "MELON"),
        _palette("MOSAIC", "#14213D #D62828 #F77F00 #FCBF49 #EAE2B7", "MOSAIC"),
        _palette("PASTEL", "#5E548E #9F86C0 #F4ACB7 #B8E0D2 #FFF5E1", "PASTEL"),
        _palette("ULTRAMARINE", "#03045E #0A2472 #3F37C9 #4CC9F0 #F1FAEE", "ULTRAMARINE"),
    )
}


def parse_palette(text: str) -> Palette:
    """A preset name (any case) or comma-separated colours, each optionally `#hex:weight`."""
    text = text.strip()
    if not text:
        raise InvalidInput("The palette is empty: give a preset name or colours like #112233,#FFAA00.")
    for name, palette in PRESETS.items():
        if name.lower() == text.lower():
            return palette
    if not any(c in text for c in "#,:") and not all(c in "0123456789abcdefABCDEF" for c in text):
        raise InvalidInput(f"Unknown palette {text!r}: use one of {', '.join(PRESETS)} or colours like #112233,#FFAA00.")
    colors = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        hex_part, _, weight = part.partition(":")
        colors.append({"hex": hex_part, "weight": float(weight) if weight else 1.0})
    return custom_palette(colors)


def custom_palette(colors: list[dict], name: str = "custom") -> Palette:
    """Colours as dicts of hex and weight, validated into a Palette with a readable error."""
    if not 1 <= len(colors) <= 8:
        raise InvalidInput(f"A palette has 1 to 8 colours; this one has {len(colors)}.")
    try:
        return Palette(name=name, colors=tuple(PaletteColor(**c) for c in colors))
    except (ValidationError, ValueError, TypeError) as exc:
        raise InvalidInput(f"Palette refused: {_first_error(exc)}") from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else err["msg"]
    return str(exc)
