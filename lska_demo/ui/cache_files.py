"""Output images written to Gradio's cache atomically.

Gradio names a cached image by the hash of its bytes and rewrites the file on every save
(``processing_utils.save_pil_to_cache``: truncate, then write). Two visitors who get the same picture at the
same moment (the same example, the same settings) share that path, and one of them can download it while
the other's save has just truncated it: an empty or cut-off image. Here a file whose name is already its
content hash is left alone, and a new one appears in one step (written aside, then renamed), so a reader
always sees a whole file.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from gradio import processing_utils
from PIL import Image


def save_pil_to_cache(img: Image.Image, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """Gradio's ``save_pil_to_cache`` with the same arguments and path, written atomically, never rewritten."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    target = (folder / f"{name}.{format}").resolve()
    if not target.exists():  # the name is the content's hash: an existing file already holds these bytes
        aside = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        aside.write_bytes(data)
        os.replace(aside, target)
    return str(target)


def write_outputs_atomically() -> None:
    """Route Gradio's image caching through ``save_pil_to_cache`` above (idempotent)."""
    processing_utils.save_pil_to_cache = save_pil_to_cache
