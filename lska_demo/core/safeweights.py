"""The shipped weights format: safetensors state dicts whose metadata names the architecture.

A file is plain tensors plus a small JSON header, so reading one can never run code (a pickled checkpoint
can). Two kinds: ``full`` holds a whole model's ``state_dict()``; ``adapter`` holds only the tensors a
variant adds to its parent (the inserted modules trained on the frozen control), kilobytes instead of
megabytes. The architecture always comes from the variant spec through the YAML generator, never from
the file. Errors here carry no path and no model id; the zoo adds the id.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file
from torch import nn

# Manifest "format" -> the tag every file of that kind carries in its safetensors metadata.
FORMATS: dict[str, str] = {"full": "lska-lens/full-v1", "adapter": "lska-lens/adapter-v1"}
SUFFIX = ".safetensors"
_HEADER_LIMIT = 1 << 24  # a state dict's header is kilobytes; anything larger is not one of ours


class WeightsError(ValueError):
    """A weights file is not what its manifest entry says (format, metadata, keys or shapes)."""


def spec_json(spec: Mapping[str, Any]) -> str:
    """The canonical text of a spec dict, as written into (and compared with) a file's metadata."""
    return json.dumps(dict(spec), sort_keys=True)


def write(
    path: str | Path,
    tensors: Mapping[str, torch.Tensor],
    kind: str,
    spec: Mapping[str, Any],
    parent: str | None = None,
) -> Path:
    """Write ``tensors`` (dtypes kept) with the metadata of ``kind``; an adapter names its parent's id.

    Args:
        path: the target file (written via a temporary file, then renamed).
        tensors: name -> tensor, e.g. a ``state_dict()``; copied to contiguous, unshared storage.
        kind: a key of ``FORMATS``.
        spec: the variant spec as a dict (``dataclasses.asdict(VariantSpec)``).
        parent: the parent model's id; required for adapters, refused for full files.
    """
    if kind not in FORMATS:
        raise WeightsError(f"unknown weights format {kind!r}; choose one of {sorted(FORMATS)}")
    if (parent is None) != (kind == "full"):
        raise WeightsError("an adapter names its parent; a full model has none")
    metadata = {"format": FORMATS[kind], "spec": spec_json(spec)}
    if parent is not None:
        metadata["parent"] = parent
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


def metadata_of(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's bytes (its first 8 bytes give the JSON header's length)."""
    if len(data) < 8:
        raise WeightsError("not a safetensors file (too short)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(_HEADER_LIMIT, len(data) - 8):
        raise WeightsError("not a safetensors file (bad header length)")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WeightsError("not a safetensors file (unreadable header)") from err
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return dict(metadata) if isinstance(metadata, dict) else {}


def parse(data: bytes, kind: str, spec: Mapping[str, Any], parent: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors of verified bytes, after checking the metadata against what the manifest expects.

    Args:
        data: the file's bytes (already checked against the manifest's sha256: the bytes hashed are the
            bytes parsed, so the file cannot change in between).
        kind: the manifest entry's format, a key of ``FORMATS``.
        spec: the manifest entry's spec dict; the file must name the same one.
        parent: the manifest entry's parent id (adapters only); the file must name the same one.
    """
    if kind not in FORMATS:
        raise WeightsError(f"unknown weights format {kind!r}; this app reads {sorted(FORMATS)}")
    metadata = metadata_of(data)
    if metadata.get("format") != FORMATS[kind]:
        raise WeightsError(f"the file's format is {metadata.get('format')!r}, the manifest says {FORMATS[kind]!r}")
    try:
        file_spec = json.loads(metadata.get("spec", "null"))
    except json.JSONDecodeError as err:
        raise WeightsError("the file's spec metadata is not JSON") from err
    if file_spec != dict(spec):
        raise WeightsError(f"the file was saved for spec {file_spec}, the manifest says {dict(spec)}")
    if kind == "adapter" and metadata.get("parent") != parent:
        raise WeightsError(f"the adapter's parent is {metadata.get('parent')!r}, the manifest says {parent!r}")
    try:
        return load(data)
    except SafetensorError as err:
        raise WeightsError(f"not a readable safetensors file ({err})") from err


def load_strict(model: nn.Module, tensors: Mapping[str, torch.Tensor], keys: set[str] | None = None) -> None:
    """Copy ``tensors`` into ``model``: exactly the names in ``keys`` (default: all of the model's), same shapes.

    Values are cast to the model's dtype (shipped fp16 -> fp32, the same cast Ultralytics' loader makes).
    """
    state = model.state_dict()
    expected = set(state) if keys is None else keys
    missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
    if missing or unexpected:
        raise WeightsError(f"keys do not match the architecture: missing {missing[:5]}, unexpected {unexpected[:5]}")
    wrong = [k for k in expected if tuple(tensors[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = sorted(wrong)[0]
        shapes = f"{tuple(tensors[k].shape)} in the file, {tuple(state[k].shape)} in the model"
        raise WeightsError(f"{len(wrong)} shapes differ from the architecture, e.g. {k}: {shapes}")
    if keys is None:
        model.load_state_dict(dict(tensors), strict=True)
        return
    with torch.no_grad():
        for k in expected:
            state[k].copy_(tensors[k])  # state_dict() tensors share storage with the model's
