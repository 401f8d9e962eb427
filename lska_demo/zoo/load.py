"""Verified loading: shipped models from safetensors (never a pickle), an operator's checkpoint, Ultralytics'
COCO weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from ultralytics.nn.tasks import DetectionModel

from lska_demo.benchmark.data import CLASS_NAMES
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.core.safeweights import WeightsError, load_strict, parse
from lska_demo.model.yolo import VariantSpec, build_model
from lska_demo.zoo.adapters import attach_adapter
from lska_demo.zoo.manifest import Manifest, ZooError, verified_bytes

LOG = logging.getLogger(__name__)


def _class_names(manifest: Manifest, nc: int) -> dict[int, str]:
    classes = manifest.benchmark.get("classes") or list(CLASS_NAMES)
    return dict(enumerate(classes)) if len(classes) == nc else {i: str(i) for i in range(nc)}


def _load_full(entry: dict[str, Any], folder: Path, manifest: Manifest) -> DetectionModel:
    with torch.random.fork_rng(devices=[]):  # building draws random init; loading must not move the global RNG
        model = build_model(VariantSpec(**entry["spec"]))
    load_strict(model, parse(verified_bytes(entry, folder), "full", entry["spec"]))
    return model


def _load_adapter(entry: dict[str, Any], folder: Path, manifest: Manifest) -> DetectionModel:
    parent_entry = manifest.entry(entry.get("parent") or "")
    if parent_entry is None or parent_entry.get("format") != "full":
        raise ZooError(f"model {entry['id']}: its parent {entry.get('parent')!r} is not a shipped full model")
    data = verified_bytes(entry, folder)  # before the parent's load: a tampered adapter costs nothing
    return attach_adapter(load_entry(parent_entry, folder, manifest), entry, data)


LOADERS: dict[str, Callable[[dict[str, Any], Path, Manifest], DetectionModel]] = {
    "full": _load_full,
    "adapter": _load_adapter,
}


def load_entry(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR, manifest: Manifest | None = None) -> Any:
    """A shipped model from its manifest entry: sha256-verified safetensors, architecture from the spec,
    strict keys and shapes; fp32, eval mode, class names from the manifest. Never unpickles anything.

    Args:
        entry: the manifest entry (``format`` "full" or "adapter").
        folder: the weights folder holding the entry's file (and its parent's).
        manifest: the manifest the entry belongs to (adapters look their parent up in it); loaded from
            ``folder`` if not given.
    """
    folder = Path(folder)
    manifest = manifest if manifest is not None else Manifest.load(folder)
    loader = LOADERS.get(entry.get("format", ""))
    if loader is None:
        raise ZooError(
            f"model {entry['id']}: unknown weights format {entry.get('format')!r}; this app reads {sorted(LOADERS)}"
        )
    try:
        model = loader(entry, folder, manifest)
    except (WeightsError, ValueError, TypeError) as err:  # TypeError/ValueError: a spec the code cannot build
        raise ZooError(f"model {entry['id']}: {err}") from err
    model.names = _class_names(manifest, int(model.yaml["nc"]))
    model.args = {"task": "detect", "imgsz": int(entry.get("recipe", {}).get("imgsz", 640))}
    return model.float().eval()


def load_checkpoint_model(path: str | Path) -> Any:
    """An operator's trusted Ultralytics checkpoint (``--weights my.pt``, ``yolov8n.pt``) as an eval float model,
    unpickled with ``weights_only=True`` (``checkpoints.load_safely``); ZooError with a plain message when it
    cannot be. Never used for ``weights/``'s zoo files (``load_entry`` reads those)."""
    from lska_demo.model.checkpoints import CheckpointError, load_safely

    try:
        return load_safely(path)
    except CheckpointError as err:
        raise ZooError(str(err)) from err


def load_zoo_model(spec: VariantSpec, seed: int = 0, folder: str | Path = WEIGHTS_DIR) -> tuple[Any, dict[str, Any]]:
    """The shipped, sha256-verified model trained for ``spec`` (full fine-tune preferred, else adapter);
    ZooError if the zoo has none."""
    manifest = Manifest.load(folder)
    entry = manifest.trained(spec, seed)
    if entry is None:
        raise ZooError(f"the zoo has no trained weights for {spec.name}")
    return load_entry(entry, folder, manifest), entry


def load_pretrained(name: str = "yolov8n.pt", folder: str | Path = WEIGHTS_DIR) -> Any:
    """Ultralytics' COCO-pretrained weights: from ``weights/`` if the operator placed them there, else
    through Ultralytics' own download (online only). Offline it fails at once with a plain message for
    visitors; what the operator can do goes to the log."""
    local = Path(folder) / name
    if local.is_file():
        return load_checkpoint_model(local)
    try:
        from ultralytics.utils.downloads import attempt_download_asset

        downloaded = Path(attempt_download_asset(name))  # Ultralytics' cache, or its release download
        if not downloaded.is_file():
            raise FileNotFoundError(name)
        return load_checkpoint_model(downloaded)
    except (ConnectionError, OSError, FileNotFoundError) as err:
        # The operator's detail goes to the log; the message reaches visitors, so it names no path or setting.
        LOG.warning(
            "%s is not in %s and could not be downloaded (%s: %s). Offline, place %s in %s/; online, start the "
            "app with YOLO_OFFLINE=0 (the default on a Hugging Face Space).",
            name, folder, type(err).__name__, err, name, folder,
        )  # fmt: skip
        raise ZooError(
            "this server cannot download the COCO-pretrained YOLOv8n, and it is not installed here."
        ) from err
