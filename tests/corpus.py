"""A corpus of awkward and hostile images, generated on the fly (nothing binary is committed)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

OK = "ok"
ERROR = "error"


def _photo(size: tuple[int, int] = (96, 64)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def _png_bomb(path: Path, side: int = 20_000) -> None:
    """A valid PNG header that declares side x side pixels, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * side  # filter byte + one grey byte per pixel
    body = zlib.compress(row * 64, 9)  # far fewer rows than declared: the header is the weapon
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def make_corpus(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every kind of input the app must survive: name -> (file, whether it must load or give a clear error)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}

    def save(name: str, image: Image.Image, fmt: str, expect: str, **kwargs: object) -> None:
        path = folder / name
        image.save(path, fmt, **kwargs)
        out[name] = (path, expect)

    save("rgb.jpg", _photo(), "JPEG", OK)
    save("gray.png", _photo().convert("L"), "PNG", OK)
    save("rgba.png", _photo().convert("RGBA"), "PNG", OK)
    save("palette.png", _photo().convert("P"), "PNG", OK)
    save("cmyk.jpg", _photo().convert("CMYK"), "JPEG", OK)
    save("gray16.png", Image.fromarray((np.arange(96 * 64).reshape(64, 96) * 10).astype(np.uint16)), "PNG", OK)
    frames = [_photo().rotate(a) for a in (0, 30, 60)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out["animated.gif"] = (folder / "animated.gif", OK)
    frames[0].save(folder / "multipage.tiff", save_all=True, append_images=frames[1:])
    out["multipage.tiff"] = (folder / "multipage.tiff", OK)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    save("exif-rotated.jpg", _photo((96, 64)), "JPEG", OK, exif=exif.tobytes())
    save("huge.png", Image.new("RGB", (4000, 3000), (10, 200, 30)), "PNG", OK)  # resized, not refused
    save("one-pixel.png", Image.new("RGB", (1, 1)), "PNG", ERROR)
    buffer = io.BytesIO()
    _photo((640, 480)).save(buffer, "JPEG")
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    out["truncated.jpg"] = (folder / "truncated.jpg", ERROR)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    out["corrupt.jpg"] = (folder / "corrupt.jpg", ERROR)
    (folder / "not-an-image.jpg").write_text("this is a text file renamed to .jpg\n")
    out["not-an-image.jpg"] = (folder / "not-an-image.jpg", ERROR)
    (folder / "empty.png").write_bytes(b"")
    out["empty.png"] = (folder / "empty.png", ERROR)
    _png_bomb(folder / "bomb.png")
    out["bomb.png"] = (folder / "bomb.png", ERROR)
    return out
