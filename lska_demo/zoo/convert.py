"""One-way conversion of trusted, self-trained Ultralytics checkpoints into the shipped safetensors format.

This is the only module that unpickles a checkpoint, and only files this project trained itself: the
trainer's output inside ``build_zoo`` and, once, the ``.pt`` files the zoo used to ship. The app never
imports it. ``python -m lska_demo convert`` rewrites every ``.pt`` entry of ``weights/manifest.json``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.core.safeweights import SUFFIX, load_strict, parse, write
from lska_demo.model.yolo import VariantSpec, build_model
from lska_demo.zoo.manifest import REGIMES, Manifest, verified_path


def trusted_checkpoint_state(path: str | Path) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """The model stored in a trusted Ultralytics checkpoint (its EMA if present) and its state dict as stored
    (fp16 in Ultralytics' final checkpoints). Unpickles: call only on files this project wrote."""
    from ultralytics.nn.tasks import torch_safe_load

    ckpt, _ = torch_safe_load(str(path))
    model = ckpt.get("ema") or ckpt["model"]
    return model, dict(model.state_dict())


def _check_round_trip(
    stored: torch.nn.Module, state: dict[str, torch.Tensor], data: bytes, spec: dict[str, Any]
) -> None:
    """The file holds exactly ``state`` (values and dtypes), and the spec's architecture loaded from it
    predicts exactly what the checkpoint's own model predicts."""
    tensors = parse(data, "full", spec)
    if set(tensors) != set(state) or any(
        tensors[k].dtype != v.dtype or not torch.equal(tensors[k], v) for k, v in state.items()
    ):
        raise RuntimeError("the safetensors file does not hold the checkpoint's state dict bit for bit")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        rebuilt = build_model(VariantSpec(**spec))
        image = torch.rand(1, 3, 128, 128)
    load_strict(rebuilt, tensors)
    reference = stored.float().eval()
    with torch.no_grad():
        same = torch.equal(rebuilt.float().eval()(image)[0], reference(image)[0])
    if not same:
        raise RuntimeError("the model rebuilt from the spec does not reproduce the checkpoint's outputs")


def ship_full(checkpoint: str | Path, entry: dict[str, Any], weights_dir: str | Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Write ``<id>.safetensors`` for a trusted checkpoint, verified by a round trip; returns the manifest
    fields it sets (``file``, ``sha256``, ``format``).

    Args:
        checkpoint: the trusted Ultralytics ``.pt``.
        entry: its manifest entry (``id`` and ``spec`` are used).
        weights_dir: where the file goes.
    """
    stored, state = trusted_checkpoint_state(checkpoint)
    target = write(Path(weights_dir) / f"{entry['id']}{SUFFIX}", state, "full", entry["spec"])
    data = target.read_bytes()
    _check_round_trip(stored, state, data, entry["spec"])
    return {"file": target.name, "sha256": hashlib.sha256(data).hexdigest(), "format": "full"}


def convert_shipped(weights_dir: str | Path = WEIGHTS_DIR, log: Any = print) -> list[str]:
    """Convert every manifest entry still shipped as ``.pt``: verify its sha256, write and check the
    safetensors file, record file/sha256/format/regime, delete the ``.pt``. Returns the converted ids."""

    weights_dir = Path(weights_dir)
    manifest = Manifest.load(weights_dir)
    converted = []
    for entry in manifest.models:
        entry.setdefault("regime", REGIMES[entry["mode"]])
        if not (entry.get("file") or "").endswith(".pt"):
            continue
        old = verified_path(entry, weights_dir)
        entry.update(ship_full(old, entry, weights_dir))
        manifest.save(weights_dir)  # before deleting: the manifest never names a missing file
        old.unlink()
        converted.append(entry["id"])
        log(f"{entry['id']}: {old.name} -> {entry['file']}")
    manifest.save(weights_dir)
    return converted
