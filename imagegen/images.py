"""Image bytes: validation before trust, thumbnails, and normalisation for upload."""

from __future__ import annotations

import io
import json
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from imagegen.errors import InvalidImage

THUMBNAIL_SIDE = 384  # a studio card's thumbnail, the longest side in pixels (the size it is shown at)

MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
}


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    format: str  # PNG, JPEG or WEBP
    width: int
    height: int
    thumbnail: bytes | None = None  # made from the full decode, when asked for


def sniff_format(data: bytes) -> str | None:
    for magic, fmt in MAGIC.items():
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_image(data: bytes, *, max_bytes: int, max_pixels: int, decode: bool = True, thumbnail_side: int | None = None) -> CheckedImage:
    """Refuse anything that is not a complete PNG, JPEG or WebP within the limits.

    `decode=False` skips the full decode, for images this app's own encoder just wrote (the
    local renderer): they were never downloaded, so they cannot be truncated, and a PNG's size
    is read from its header without opening it. `thumbnail_side` makes the thumbnail from that
    same decode, so the image is never decoded twice."""
    if not data:
        raise InvalidImage("The provider sent an empty file instead of an image.")
    if len(data) > max_bytes:
        raise InvalidImage(f"The image is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit.")
    fmt = sniff_format(data)
    if fmt is None:
        raise InvalidImage("The provider sent something that is not a PNG, JPEG or WebP image.")
    if not decode and fmt == "PNG" and len(data) >= 33 and data[8:16] == b"\x00\x00\x00\x0dIHDR":  # the first chunk, as the spec requires
        width, height = struct.unpack(">II", data[16:24])
        if not width or not height:
            raise InvalidImage("The image is damaged or truncated (a zero size in its header).")
        if width * height > max_pixels:
            raise InvalidImage(f"The image is {width}x{height}, over the {max_pixels:,} pixel limit.")
        return CheckedImage(data=data, format=fmt, width=width, height=height)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as im:
                width, height = im.size
                if width * height > max_pixels:
                    raise InvalidImage(f"The image is {width}x{height}, over the {max_pixels:,} pixel limit.")
                im.verify()
            # verify() does not decode every format fully; load() catches truncated data.
            thumbnail = None
            if decode:
                with Image.open(io.BytesIO(data), formats=[fmt]) as im:
                    im.load()
                    if thumbnail_side:
                        try:
                            thumbnail = _encode_thumbnail(im, thumbnail_side)
                        except Exception:  # only a cache (the page makes its own): never a reason to refuse the image
                            thumbnail = None
    except InvalidImage:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"The image is damaged or truncated ({type(exc).__name__}).") from None
    return CheckedImage(data=data, format=fmt, width=width, height=height, thumbnail=thumbnail)


def make_thumbnail(data: bytes, max_side: int = THUMBNAIL_SIDE) -> bytes:
    """A small JPEG; big JPEGs are decoded at reduced scale, so this costs milliseconds."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (max_side, max_side))  # JPEG only: DCT scaling during decode
        return _encode_thumbnail(im, max_side)


def _encode_thumbnail(im: Image.Image, max_side: int) -> bytes:
    """Shrinks `im` in place (callers pass an image they opened for this) and encodes it."""
    im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    im = _flatten(im, (255, 255, 255))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=82)
    return out.getvalue()


def cached_thumbnail(folder: Path, key: str, make, max_side: int = THUMBNAIL_SIDE) -> bytes:
    """Thumbnails are keyed by the content hash in the media key, so they never go stale.
    `make()` gives the thumbnail's bytes when none is on disk yet."""
    digest = key.rsplit("/", 1)[-1].split(".")[0]
    path = folder / f"{digest}-{max_side}.jpg"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    thumb = make()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(thumb)
    tmp.replace(path)
    return thumb


def _flatten(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        base = Image.new("RGB", im.size, background)
        base.paste(im, mask=im.getchannel("A"))
        return base
    return im.convert("RGB") if im.mode != "RGB" else im


def normalise_for_upload(data: bytes, *, image_format: str, max_width: int, background: str, recipe: dict | None = None) -> CheckedImage:
    """Upright, flattened onto `background`, at most `max_width` wide, re-encoded with no metadata
    (but the recipe, when one is given). Returned with its format and size, which are recorded
    with the approval, so nothing decodes the upload again to tell them."""
    bg = tuple(int(background.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    with Image.open(io.BytesIO(data)) as src:
        im = ImageOps.exif_transpose(src)
        im = _flatten(im, bg)  # type: ignore[arg-type]
        if im.width > max_width:
            im = im.resize((max_width, round(im.height * max_width / im.width)), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        # A fresh image carries no EXIF, text chunks or ICC profile from the source.
        clean = Image.new("RGB", im.size)
        clean.paste(im)
        options = {"JPEG": {"quality": 90, "optimize": True}, "WEBP": {"quality": 90}, "PNG": {"optimize": False}}
        clean.save(out, image_format, **options[image_format])
        encoded = embed_recipe(out.getvalue(), image_format, recipe) if recipe else out.getvalue()
        return CheckedImage(encoded, image_format, clean.width, clean.height)


RECIPE_KEY = "imagegen:recipe"


def embed_recipe(data: bytes, image_format: str, recipe: dict) -> bytes:
    """Carry the recipe inside the file without re-encoding a pixel: an iTXt chunk in a PNG,
    a comment segment in a JPEG. WebP files are returned as they are."""
    text = json.dumps(recipe, ensure_ascii=False, separators=(",", ":")).encode()
    if image_format == "PNG":
        body = RECIPE_KEY.encode() + b"\0\0\0\0\0" + text  # keyword, uncompressed, no language
        chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
        end = data.rfind(b"IEND") - 4  # the IEND chunk starts with its 4-byte length
        return data[:end] + chunk + data[end:] if end > 8 else data
    if image_format == "JPEG":
        payload = RECIPE_KEY.encode() + b" " + text
        if len(payload) > 65533:
            return data
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + data[2:]
    return data


def read_recipe(data: bytes) -> dict | None:
    """The recipe embedded by `embed_recipe`, or None when the image carries none."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format == "PNG":
                text = im.text.get(RECIPE_KEY)  # type: ignore[attr-defined]
            elif im.format == "JPEG":
                comment = im.info.get("comment", b"")
                prefix = RECIPE_KEY.encode() + b" "
                text = comment[len(prefix):].decode() if comment.startswith(prefix) else None
            else:
                text = None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidImage("That image is too large to read (a decompression bomb?); drop the generated file itself.") from None
    except (OSError, SyntaxError, ValueError):
        return None
    if not text:
        return None
    try:
        recipe = json.loads(text)
    except json.JSONDecodeError:
        return None
    return recipe if isinstance(recipe, dict) else None
