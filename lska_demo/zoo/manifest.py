"""``weights/manifest.json``: what every trained model is, how it was made, and its verified file.

The manifest records, for every trained model, its architecture, recipe, seed, data hash, held-out metrics
and (for shipped files) the sha256. The app reads the manifest and never guesses; a file whose hash does not
match is refused.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.model.yolo import VariantSpec

MANIFEST_NAME = "manifest.json"


class ZooError(RuntimeError):
    """A zoo entry is missing, unverified or unknown: the message says which and what to do."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_SHARED: dict[Path, tuple[tuple[int, int, int], Manifest]] = {}  # Manifest.shared's copies, by file
_SHARED_LOCK = threading.Lock()


@dataclass
class Manifest:
    benchmark: dict[str, Any] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, folder: str | Path = WEIGHTS_DIR) -> Manifest:
        path = Path(folder) / MANIFEST_NAME
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        return cls(benchmark=raw.get("benchmark", {}), models=raw.get("models", []))

    @classmethod
    def shared(cls, folder: str | Path = WEIGHTS_DIR) -> Manifest:
        """``load`` for readers that never change the manifest (the app, on every request): one parsed copy per
        folder, parsed again only when the file changes (its inode, size or modification time; ``save`` replaces
        it atomically). Callers must not modify what it returns."""
        path = Path(folder) / MANIFEST_NAME
        try:
            stat = path.stat()
        except FileNotFoundError:
            return cls()
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with _SHARED_LOCK:
            known = _SHARED.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        manifest = cls.load(folder)
        with _SHARED_LOCK:
            _SHARED[path] = (stamp, manifest)
        return manifest

    def save(self, folder: str | Path = WEIGHTS_DIR) -> Path:
        path = Path(folder) / MANIFEST_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)  # atomic: a reader never sees half a manifest
        return path

    @property
    def active(self) -> list[dict[str, Any]]:
        """The entries not retired (``zoo.retire``): what the results and the app judge."""
        return [m for m in self.models if not m.get("retired")]

    @property
    def retired(self) -> list[dict[str, Any]]:
        return [m for m in self.models if m.get("retired")]

    def entry(self, model_id: str) -> dict[str, Any] | None:
        return next((m for m in self.models if m["id"] == model_id), None)

    def upsert(self, entry: dict[str, Any]) -> None:
        self.models = [m for m in self.models if m["id"] != entry["id"]] + [entry]

    def find(
        self, spec: VariantSpec, seed: int = 0, shipped: bool = True, regime: str = "finetune"
    ) -> dict[str, Any] | None:
        """The entry trained for ``spec`` in ``regime`` (``regime_of``; the default is the full fine-tune, whose
        control is the fine-tuned baseline) with a file, if any. The regime is always explicit, so a graft and
        an adapter of the same spec never stand in for each other."""
        for m in self.models:
            if m.get("retired") or regime_of(m) != regime or m["seed"] != seed or (shipped and not m.get("file")):
                continue
            if VariantSpec(**m["spec"]) == spec:  # a baseline spec is canonical: equal whatever it was given
                return m
        return None

    def trained(self, spec: VariantSpec, seed: int = 0, shipped: bool = True) -> dict[str, Any] | None:
        """The entry that answers a choice of ``spec``: the first regime of ``REGIME_PREFERENCE`` that has one."""
        return next((e for r in REGIME_PREFERENCE if (e := self.find(spec, seed, shipped, regime=r)) is not None), None)


def _weights_file(entry: dict[str, Any], folder: str | Path) -> Path:
    if not entry.get("file"):
        raise ZooError(f"model {entry['id']} has metrics only: its weights are not shipped")
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise ZooError(
            f"model {entry['id']}: its weights file {entry['file']} is missing; run `python -m lska_demo zoo` "
            "to rebuild the zoo"
        )
    return path


def _hash_mismatch(entry: dict[str, Any]) -> ZooError:
    return ZooError(f"model {entry['id']}: {entry['file']} does not match the sha256 in the manifest; refusing it")


def verified_path(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR) -> Path:
    """The file of a manifest entry, after checking its sha256; raises ZooError otherwise."""
    path = _weights_file(entry, folder)
    if sha256_of(path) != entry.get("sha256"):
        raise _hash_mismatch(entry)
    return path


def verified_bytes(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR) -> bytes:
    """The bytes of a manifest entry's file, checked against its sha256 before anything parses them.

    Reading once and hashing what was read means the bytes parsed are the bytes verified.
    """
    data = _weights_file(entry, folder).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise _hash_mismatch(entry)
    return data


# How each training mode is judged: grafts are fine-tunes of the same parent with the control's recipe.
REGIMES: dict[str, str] = {"scratch": "scratch", "finetune": "finetune", "graft": "finetune", "adapter": "adapter"}


def regime_of(entry: dict[str, Any]) -> str:
    """The training regime of a manifest entry: recorded in the manifest, else derived from its mode."""
    return entry.get("regime") or REGIMES[entry["mode"]]


# The regimes a shipped model can answer a choice with, preferred first: the full fine-tune graft (the
# headline experiment), then the adapter (only the inserted gates trained, on the frozen control).
REGIME_PREFERENCE: tuple[str, ...] = ("finetune", "adapter")


def pointwise_at(spec: VariantSpec) -> VariantSpec:
    """The adapter regime's control of ``spec``: the pointwise gate (1×1, no spatial kernel) at the same
    point, trained the same way on the same frozen parent, so a difference is the large kernel's."""
    return VariantSpec(k=1, point=spec.point, scale=spec.scale, nc=spec.nc, design="pointwise")


# Which architecture is the control of a variant within each regime; any other regime: the baseline (no gate).
CONTROLS: dict[str, Callable[[VariantSpec], VariantSpec]] = {"adapter": pointwise_at}


def control_spec(regime: str, spec: VariantSpec) -> VariantSpec:
    """The architecture ``spec`` is compared with in ``regime`` (same regime, seed and recipe)."""
    return CONTROLS.get(regime, VariantSpec.baseline)(spec)
