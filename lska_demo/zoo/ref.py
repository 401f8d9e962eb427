"""A model named on the command line: a user's Ultralytics checkpoint path, or the id of a shipped zoo model.

Zoo models are read only through the verified safetensors loader (``zoo.load_entry``: sha256, strict keys and
shapes, never unpickled); a path is the operator's own trusted checkpoint. Ultralytics' trainer reads only
checkpoint files, so a zoo model that is to be trained further is written once as one (``as_checkpoint``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.zoo.load import load_checkpoint_model, load_entry
from lska_demo.zoo.manifest import Manifest, ZooError


def zoo_ids(folder: str | Path = WEIGHTS_DIR) -> list[str]:
    """The ids of the zoo models whose weights are shipped in ``folder``."""
    return [m["id"] for m in Manifest.load(folder).models if m.get("file")]


def _not_found(ref: str, folder: str | Path) -> ZooError:
    ids = zoo_ids(folder)
    known = f"zoo models shipped here: {', '.join(ids)}" if ids else "no zoo models are shipped here"
    return ZooError(f"{Path(ref).name!r} is neither a checkpoint file nor a zoo model id ({known})")


def _zoo_entry(ref: str, folder: str | Path) -> tuple[dict[str, Any], Manifest]:
    manifest = Manifest.load(folder)
    entry = manifest.entry(ref)
    if entry is None or not entry.get("file"):
        raise _not_found(ref, folder)
    return entry, manifest


def load_model(ref: str | Path, folder: str | Path = WEIGHTS_DIR) -> tuple[Any, str]:
    """The model ``ref`` names and a short label: an existing file is a checkpoint, anything else a zoo id.

    Args:
        ref: a checkpoint path (``my.pt``, ``yolov8n.pt``) or a zoo model id (``yolov8n-lska23-sppf-s0``).
        folder: the zoo's weights folder.
    """
    path = Path(ref)
    if path.is_file():
        return load_checkpoint_model(path), path.name
    entry, manifest = _zoo_entry(str(ref), folder)
    return load_entry(entry, folder, manifest), entry["id"]


def as_checkpoint(ref: str | Path, out_dir: str | Path, folder: str | Path = WEIGHTS_DIR) -> Path:
    """A checkpoint file for ``ref``: a path is returned as it is; a zoo model is written once to
    ``out_dir/<id>-<sha256[:12]>.pt`` and reused after, so a resumed experiment sees the same base path (and
    a zoo file that changed in between gives another path, which the experiment refuses to mix).

    Args:
        ref: a checkpoint path or a zoo model id.
        out_dir: where a zoo model's checkpoint is written.
        folder: the zoo's weights folder.
    """
    from lska_demo.model.yolo import save_checkpoint

    path = Path(ref)
    if path.is_file():
        return path
    entry, manifest = _zoo_entry(str(ref), folder)
    target = Path(out_dir) / f"{entry['id']}-{entry['sha256'][:12]}.pt"
    if not target.is_file():
        model = load_entry(entry, folder, manifest)
        save_checkpoint(model, target, {"train_args": {"imgsz": model.args["imgsz"]}, "zoo_id": entry["id"]})
    return target
