"""Lead images as readers get them: copies on our own site, in a few widths, with their alt text.

Enters: the bytes a member's server sent for a post's lead image (``imagefetch`` fetched them
through the guarded fetcher), the manifest of images already made, a post's sanitized markup.
Leaves: ``Made`` (the variants to write, named by a hash of the original's bytes), the
manifest's records, and ``ImageView`` (``src``, ``srcset``, width, height, alt) for the page
and the digest.  Readers' browsers and mail clients only ever load these copies: a member's
server never learns who reads, and a member's broken or hostile image costs only that image.

Pillow (imported here and nowhere else, and only once an image is made: a cycle's process, whose
peak memory is while it fetches, does without its 2 MiB until then) reads only JPEG, PNG, GIF
and WebP, whatever the server's ``Content-Type`` says, so an HTML page served as
``image/jpeg`` is refused; the pixel count is checked from the header before any pixel is
decoded, so a small file that would inflate to gigabytes (a decompression bomb) is refused
too.  Every variant is re-encoded, which also drops metadata (EXIF locations, comments) and
anything appended to the file.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

WIDTHS = (160, 320, 640)  # a thumbnail, a phone's column, a desktop column (2x where it helps)
MAX_PIXELS = 40_000_000  # width x height read from the header; about 160 MB once decoded
MIN_SIDE = 24  # smaller than this is a pixel or an icon, not a lead image
FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
QUALITY = 80
DIRECTORY = "images"  # under the output directory
MANIFEST = "images/index.json"


class ImageRefused(ValueError):
    """The bytes are not an image we republish; the message says why, in English, for logs."""


@dataclass(frozen=True, slots=True)
class Made:
    """One original, re-encoded: its key (the hash of its bytes), size and variants by width."""

    key: str
    width: int
    height: int
    variants: Mapping[int, bytes]


@dataclass(frozen=True, slots=True)
class Stored:
    """A manifest record: what ``make_variants`` made from one URL, files named by ``key``."""

    key: str
    width: int
    height: int
    widths: tuple[int, ...]

    def path(self, width: int) -> str:
        return f"{DIRECTORY}/{self.key}-{width}.jpg"

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "width": self.width, "height": self.height,
                "widths": list(self.widths)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImageView:
    """What an ``<img>`` needs: the largest variant as ``src``, every one in ``srcset``."""

    src: str
    srcset: str
    width: int
    height: int
    alt: str
    thumb: str  # the smallest variant: the digest's thumbnail


def make_variants(data: bytes) -> Made:
    """The original's variants, each at most its own width; raises ``ImageRefused``."""
    from PIL import ImageOps

    key = hashlib.sha256(data).hexdigest()[:24]
    with _opened(data) as image:
        image = ImageOps.exif_transpose(image) or image
        rgb = _flatten(image)
        width, height = rgb.size
        widths = [w for w in WIDTHS if w < width] + [min(width, WIDTHS[-1])]
        variants = {w: _encode(rgb, w) for w in sorted(set(widths))}
    return Made(key, width, height, variants)


class _opened:
    """Open with Pillow, refusing what is not a plain raster image of a sane size."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.image: Image.Image | None = None

    def __enter__(self) -> Image.Image:
        from PIL import Image, UnidentifiedImageError

        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                image = Image.open(io.BytesIO(self.data), formats=FORMATS)
            except UnidentifiedImageError:
                raise ImageRefused("not a JPEG, PNG, GIF or WebP image") from None
            except Image.DecompressionBombError as exc:
                raise ImageRefused(f"too many pixels: {_reason(exc)}") from None
            except (OSError, ValueError, Image.DecompressionBombWarning) as exc:
                raise ImageRefused(f"unreadable image: {_reason(exc)}") from None
            self.image = image
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageRefused(f"too many pixels: {width}x{height}")
            if min(width, height) < MIN_SIDE:
                raise ImageRefused(f"too small to show: {width}x{height}")
            try:
                image.load()
            except (OSError, ValueError, Image.DecompressionBombWarning) as exc:
                raise ImageRefused(f"broken image: {_reason(exc)}") from None
        return image

    def __exit__(self, *exc: object) -> None:
        if self.image is not None:
            self.image.close()


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparent PNGs and GIFs read as the member's site shows them."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, width: int) -> bytes:
    from PIL import Image

    if image.width > width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


def stored(made: Made) -> Stored:
    return Stored(made.key, made.width, made.height, tuple(sorted(made.variants)))


def read_manifest(data: Mapping[str, object]) -> dict[str, Stored]:
    """The manifest's good records by image URL (failures are ``imagefetch``'s business)."""
    out: dict[str, Stored] = {}
    for url, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            continue
        try:
            widths = tuple(int(w) for w in entry["widths"])
            out[url] = Stored(entry["key"], int(entry["width"]), int(entry["height"]), widths)
        except (KeyError, TypeError, ValueError):
            continue
    return out


def view(record: Stored, alt: str, prefix: str) -> ImageView:
    """The ``<img>`` of a stored image; ``prefix`` leads to the output directory's root
    (``../`` from a language's pages, the site's URL in an email)."""
    largest = max(record.widths)
    height = round(record.height * largest / record.width) if record.width > largest else None
    srcset = ", ".join(f"{prefix}{record.path(w)} {w}w" for w in record.widths)
    return ImageView(
        src=f"{prefix}{record.path(largest)}",
        srcset=srcset,
        width=min(record.width, largest),
        height=height or record.height,
        alt=alt,
        thumb=f"{prefix}{record.path(min(record.widths))}",
    )


_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r"""\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def alt_text(content_html: str, image_url: str) -> str:
    """The alt text the member gave the lead image in the post's (sanitized) markup, or "".

    An image taken from the feed's media elements has none in the markup: it then reads as
    decorative (``alt=""``), since the title beside it already says what the post is about.
    """
    if "<img" not in content_html and "<IMG" not in content_html:
        return ""
    for tag in _IMG.findall(content_html):
        src = _SRC.search(tag)
        if src and html.unescape(src.group(1) or src.group(2) or "") == image_url:
            alt = _ALT.search(tag)
            text = html.unescape(alt.group(1) or alt.group(2) or "") if alt else ""
            return " ".join(text.split())[:300]
    return ""
