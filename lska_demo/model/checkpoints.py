"""Operator checkpoints (``--weights my.pt``, ``yolov8n.pt``) loaded with ``torch.load(weights_only=True)``.

A ``.pt`` file is a pickle, and a pickle can run code. The shipped zoo never uses one (safetensors, ``zoo.load_entry``);
an operator's checkpoint is trusted, but is still read by torch's restricted unpickler: Ultralytics'
``torch_safe_load(..., safe_only=True)`` registers the Ultralytics and torch classes a checkpoint names (an
allow-list, never arbitrary globals), and this module adds the LSKA classes that the app's own grafts and
training runs save. A checkpoint that needs anything else is refused with ``CheckpointError``, whose message
names the file (not its folder) and what to do; the refused global goes to the log.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lska_demo.model import kernels, yolo

LOG = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded safely; the message is fit for a visitor (no folder, no setting)."""


def lska_classes() -> list[type]:
    """The app's own classes that appear in checkpoints it saves (LSKA blocks, the C2f/Bottleneck variants that
    carry them, and their spec dataclasses): torch's restricted unpickler must be told they are safe."""
    found = []
    for module in (kernels, yolo):
        for value in vars(module).values():
            own = isinstance(value, type) and value.__module__ == module.__name__
            if own and (issubclass(value, nn.Module) or dataclasses.is_dataclass(value)):
                found.append(value)
    return found


def supported() -> bool:
    """Whether this torch and Ultralytics can load a checkpoint with ``weights_only=True`` (torch 2.6+)."""
    from ultralytics.nn.tasks import _SafeLoad

    return bool(_SafeLoad.SUPPORTED)


def load_safely(path: str | Path) -> Any:
    """An Ultralytics checkpoint as an eval float model, unpickled with ``weights_only=True``.

    Args:
        path: the ``.pt`` file.
    """
    import pickle

    from ultralytics.nn.tasks import guess_model_task, torch_safe_load
    from ultralytics.utils import DEFAULT_CFG_DICT

    name = Path(path).name
    if not supported():
        raise CheckpointError(
            f"{name}: this torch ({torch.__version__}) cannot load checkpoints with weights_only=True (torch 2.6 or "
            "newer can); convert it to safetensors, or upgrade torch"
        )
    torch.serialization.add_safe_globals(lska_classes())
    try:
        checkpoint, _ = torch_safe_load(str(path), safe_only=True)
    except (TypeError, pickle.UnpicklingError, RuntimeError, ModuleNotFoundError, EOFError) as err:
        LOG.warning("refused checkpoint %s: %s: %s", path, type(err).__name__, err)
        raise CheckpointError(
            f"{name} cannot be loaded with weights_only=True: it is damaged, or it references types outside "
            "Ultralytics' checkpoint format and the app's LSKA modules (details in the server log)"
        ) from err
    model = checkpoint.get("ema") or checkpoint.get("model") if isinstance(checkpoint, dict) else None
    if not isinstance(model, nn.Module):
        raise CheckpointError(f"{name} holds no Ultralytics model (no 'model' or 'ema' entry)")
    model = model.float()
    model.args = {**DEFAULT_CFG_DICT, **(checkpoint.get("train_args") or {})}
    model.task = getattr(model, "task", None) or guess_model_task(model)
    if not hasattr(model, "stride"):
        model.stride = torch.tensor([32.0])
    for module in model.modules():  # as Ultralytics' load_checkpoint leaves them
        if hasattr(module, "inplace"):
            module.inplace = True
        elif isinstance(module, nn.Upsample) and not hasattr(module, "recompute_scale_factor"):
            module.recompute_scale_factor = None
    return model.eval()
