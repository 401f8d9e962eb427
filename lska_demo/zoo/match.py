"""Which of the zoo's own runs a paired experiment repeats, and whether it got the same numbers.

An experiment on the zoo's benchmark with the zoo's recipe, from the zoo's parent (``--base
yolov8n-scratch-s0``) or from scratch, trains exactly what ``python -m lska_demo zoo`` trained. Its report
then puts each run beside the manifest entry with the same data hash, mode, architecture, parent, recipe and
seed, so a reader sees whether the zoo's numbers come back: to the last digit on the machine that trained the
zoo (training on a CPU repeats exactly there), within float noise amplified by training elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from lska_demo.benchmark.data import CLASS_NAMES, dataset_hash
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.model.yolo import VariantSpec
from lska_demo.zoo.manifest import Manifest

ZOO_BASE_FILE = re.compile(r"^(?P<id>.+)-(?P<sha>[0-9a-f]{12})\.pt$")  # model_ref.as_checkpoint's file names


def zoo_parent(base: str | None, manifest: Manifest) -> str | None:
    """The manifest id of the experiment's base when it is a zoo model written by ``as_checkpoint`` (its sha256
    prefix must match), ``None`` for an experiment from scratch; ``""`` when the base is not a zoo model."""
    if base is None:
        return None
    match = ZOO_BASE_FILE.match(Path(base).name)
    if match is None:
        return ""
    entry = manifest.entry(match["id"])
    if entry is None or not str(entry.get("sha256") or "").startswith(match["sha"]):
        return ""
    return entry["id"]


def _is_the_benchmark(data: str, manifest: Manifest) -> bool:
    """The data YAML names the benchmark's classes and its folder hashes to the manifest's data hash (hashed
    only after the cheap check: a user's dataset is never read through for nothing)."""
    path = Path(data)
    try:
        names = yaml.safe_load(path.read_text()).get("names")
    except (OSError, yaml.YAMLError, AttributeError):
        return False
    names = list(names.values()) if isinstance(names, dict) else names
    if names != list(CLASS_NAMES) or not manifest.benchmark.get("data_hash"):
        return False
    return dataset_hash(path.parent) == manifest.benchmark["data_hash"]


def _counterpart(manifest: Manifest, mode: str, spec: VariantSpec, parent: str | None, recipe: dict[str, Any]) -> Any:
    for entry in manifest.models:
        same = (
            entry.get("mode") == mode
            and entry.get("parent") == parent
            and entry.get("recipe") == recipe
            and entry.get("data_hash") == manifest.benchmark["data_hash"]
        )
        if same and VariantSpec(**entry["spec"]) == spec:
            return entry
    return None


def zoo_counterparts(
    experiment: dict[str, Any], runs: dict[str, dict[str, Any]], weights_dir: str | Path = WEIGHTS_DIR
) -> list[dict[str, Any]]:
    """Each finished run of ``experiment`` (a state file's ``experiment`` and ``runs``) beside the zoo's run of
    the same model, as rows ``{seed, arm, zoo_id, experiment, zoo, max_abs_difference, exact}``; empty when the
    experiment is not one the zoo ran (other data, base or recipe). Each row also carries both runs' training
    machines (``provenance.training_machine``), which explain a difference where they differ."""
    manifest = Manifest.load(weights_dir)
    parent = zoo_parent(experiment["base"], manifest)
    if parent == "" or not _is_the_benchmark(experiment["data"], manifest):
        return []
    spec = VariantSpec(**experiment["spec"])
    rows = []
    for run in runs.values():
        arm_spec = spec if run["arm"] == "lska" else spec.baseline()
        recipe = {**experiment["recipe"], "seed": run["seed"]}
        entry = _counterpart(manifest, run["mode"], arm_spec, parent, recipe)
        if entry is None:
            continue
        ours, zoo = run["metrics"], entry["metrics"]
        rows.append(
            {
                "seed": run["seed"],
                "arm": run["arm"],
                "zoo_id": entry["id"],
                "experiment": ours,
                "zoo": zoo,
                "max_abs_difference": max(abs(ours[m] - zoo[m]) for m in zoo),
                "exact": ours == zoo,
                "machine": run.get("machine"),
                "zoo_machine": entry.get("machine"),  # None: trained before the manifest recorded machines
            }
        )
    return sorted(rows, key=lambda r: (r["seed"], r["arm"]))
