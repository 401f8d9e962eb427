"""Which models answer a question: the baseline and the LSKA variant of a model source, from the cache.

Model sources:
- ``zoo``: the shipped benchmark models (4 shape classes). A choice is answered by its full fine-tune graft
  (the headline experiment) if the zoo has one, else by its adapter (only the inserted gates trained on the
  frozen control); the baseline side is the control of that regime (``zoo.control_spec``).
- ``yolov8n.pt``: Ultralytics' COCO-pretrained weights; the LSKA side is an identity-initialised graft.
- ``checkpoint:<name>``: an operator's checkpoint given on the command line, treated like ``yolov8n.pt``.
A side with no trained weights is a randomly initialised model: cost, ERF and attention still work on it,
but it never shows detections. Architecture-only models (random weights, 80 classes) answer the cost question.

Models are used read-only; each holds a lock because Ultralytics' Detect head caches anchors per input shape
and CAM/ERF hooks are per model.
"""

from __future__ import annotations

import functools
import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lska_demo.app.inputs import check_choice
from lska_demo.app.online import SourceAvailability, pretrained_availability
from lska_demo.core.cache import LoadedModel, ModelCache
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.core.stats import MIN_TAPS_FOR_INIT_TEST
from lska_demo.model.vocabulary import BLOCK_LABELS, DESIGN_CHOICES, DESIGN_LABELS
from lska_demo.model.yolo import VariantSpec, build_model, graft, spec_of

ZOO = "zoo"
PRETRAINED = "yolov8n.pt"
CHECKPOINT_PREFIX = "checkpoint:"
ZOO_IMGSZ = 256  # the zoo is trained and evaluated at 256 px (the benchmark's image size)
PRETRAINED_IMGSZ = 640
SOURCE_LABELS = {ZOO: "benchmark zoo (4 shapes, trained)", PRETRAINED: "yolov8n.pt (COCO) + identity LSKA graft"}
UNAVAILABLE_LABEL = "yolov8n.pt (COCO): unavailable on this server"
UNTRAINED_EFFECT = "a randomly initialised network: no detections; cost, receptive field and attention still work"
LOG = logging.getLogger(__name__)
REFUSED = "Refused:"  # how an operator checkpoint that was refused (unsafe or damaged) begins its status


@dataclass(frozen=True)
class Readiness:
    """Whether one side of a comparison has trained weights, and a sentence saying which or why not.

    ``role`` names the side ("Baseline", "Control", "LSKA"...) and ``caption`` the model it shows, in words
    ("Control: YOLOv8n + 1×1 pointwise gate at neck (adapter)"), for the labels of its pictures and tables.
    """

    trained: bool
    text: str
    role: str = ""
    caption: str = ""


REGIME_WORDS = {"finetune": "fine-tuned", "adapter": "adapter", "scratch": "from scratch"}


def gate_name(design: str) -> str:
    """A gate design's short name, as the paper writes it: "LSKA", "LKA", "LSKA-trivial", "LKA-trivial"."""
    return DESIGN_LABELS[design].split(" (", 1)[0]


def model_words(spec: VariantSpec) -> str:
    """A model in words: "YOLOv8n", "YOLOv8n + 1×1 pointwise gate at neck", "YOLOv8n + LKA k=23 at sppf"."""
    base = f"YOLOv8{spec.scale}"
    if spec.is_baseline:
        return base
    if spec.design == "pointwise":
        return f"{base} + 1×1 pointwise gate at {spec.point}"
    gate = gate_name(spec.design)
    block = " (VAN block)" if spec.block == "van" else ""
    return f"{base} + {gate}{block} k={spec.k} at {spec.point}"


def side_role(spec: VariantSpec) -> str:
    """What a side is called: the baseline (no gate), the pointwise control, or the gate design it tests."""
    if spec.is_baseline:
        return "Baseline"
    if spec.design == "pointwise":
        return "Control"
    return gate_name(spec.design)


def zoo_caption(spec: VariantSpec, regime: str | None) -> str:
    """The caption of a zoo side: the model in words and how it was trained (``regime``; None: untrained)."""
    how = "random weights" if regime is None else REGIME_WORDS.get(regime, regime)
    role = side_role(spec)
    prefix = f"{role}: " if role in ("Baseline", "Control") else ""
    return f"{prefix}{model_words(spec)} ({how})"


def _not_the_gate(spec: VariantSpec) -> str | None:
    if spec.block == "gate":
        return None
    return f"the zoo's training budget covers the bare gate at every size and point, not {BLOCK_LABELS[spec.block]}"


def _design_off_grid(spec: VariantSpec) -> str | None:
    if spec.design == "lska" or (spec.k, spec.point) == DESIGN_COMPARISON:
        return None
    k, point = DESIGN_COMPARISON
    return (
        f"the zoo trains {DESIGN_CHOICES[spec.design]} only at k={k} '{point}' (the paper's design comparison); "
        "other sizes and points are not in its training budget"
    )


DESIGN_COMPARISON = (23, "sppf")  # where the zoo compares the gate designs (zoo.adapters_plan)
# Why the zoo has no weights for a choice: the first rule that applies speaks, else the zoo is unfinished.
UNTRAINED_RULES: tuple[Callable[[VariantSpec], str | None], ...] = (_not_the_gate, _design_off_grid)


def _retired(spec: VariantSpec, manifest: Any) -> str | None:
    entry = None if manifest is None else next((e for e in manifest.retired if VariantSpec(**e["spec"]) == spec), None)
    if entry is None:
        return None
    return f"the zoo's model of {spec.name} was retired ({entry['retired']}) and has not been retrained yet"


def untrained_reason(spec: VariantSpec, manifest: Any = None) -> str:
    """One line on why the zoo has no trained weights for ``spec`` (``manifest``: to name a retired model)."""
    reasons = (rule(spec) for rule in UNTRAINED_RULES)
    fallback = _retired(spec, manifest) or f"the zoo has no trained weights for {spec.name} yet"
    return next((r for r in reasons if r), fallback)


def zoo_control(regime: str, spec: VariantSpec) -> VariantSpec:
    """The control of ``spec`` in ``regime`` (``zoo.control_spec``)."""
    from lska_demo.zoo.manifest import control_spec

    return control_spec(regime, spec)


def trained_status(entry: dict[str, Any], spec: VariantSpec, manifest: Any) -> str:
    """What a trained zoo model is, in plain words: its regime, and the control it is compared with."""
    from lska_demo.zoo.manifest import regime_of

    regime, parent = regime_of(entry), entry.get("parent")
    if regime == "adapter" and spec.design == "pointwise":
        return (
            f"Trained: zoo model {entry['id']}, the control of the adapter regime: a 1×1 pointwise gate (no spatial "
            f"kernel) at '{spec.point}', trained alone on the frozen {parent} with the adapters' recipe."
        )
    if spec.is_baseline:
        return f"Trained: zoo model {entry['id']}, the control: the baseline fine-tuned with the grafts' recipe."
    control = zoo_control(regime, spec)
    control_entry = manifest.find(control, seed=entry["seed"], shipped=False, regime=regime)
    return _trained_variant(entry, spec, regime, _control_label(control, control_entry)) + _kernel_note(entry)


def _control_label(control: VariantSpec, entry: dict[str, Any] | None) -> str:
    return entry["id"] if entry else f"{control.name} (not trained)"


def _kernel_note(entry: dict[str, Any]) -> str:
    """How far the large kernels moved from their random init, measured on the weights (``zoo.retire``), and
    whether the detector uses where they went (``zoo.shuffle``)."""
    change = entry.get("kernel_change")
    if change is None:
        return ""
    return _moved_note(entry, change) + _shuffle_note(entry.get("kernel_shuffle"))


def _shuffle_note(shuffle: dict[str, Any] | None) -> str:
    if not shuffle:
        return ""
    shuffled, as_high = shuffle["shuffled"], sum(s >= shuffle["trained"] for s in shuffle["shuffled"])
    note = (
        f" With the same kernel values shuffled into random places it scores {statistics.fmean(shuffled):.4f} "
        f"{shuffle['metric']} (mean of {len(shuffled)} shuffles) against {shuffle['trained']:.4f} trained"
    )
    if as_high:
        return note + (
            f"; {as_high} of the {len(shuffled)} shuffles scored as high or higher, so nothing shows that the "
            "detector uses where training put them."
        )
    return note + (
        f"; all {len(shuffled)} shuffles scored lower, by {shuffle['drop']:.4f} on average (with {len(shuffled)} "
        f"shuffles the permutation p cannot fall below {shuffle['p']:.2f})."
    )


def _moved_note(entry: dict[str, Any], change: float) -> str:
    tests = entry.get("kernel_tests") or {}
    note = f" Its large kernels moved {change:.2f} from their random init (relative L2)"
    if tests.get("testable") and tests["told_apart"] < tests["testable"]:
        return note + (
            f", but a KS test tells only {tests['told_apart']} of its {tests['testable']} kernels apart from random: "
            "the rest may still be close to their init."
        )
    if tests.get("testable"):
        return note + f"; all {tests['testable']} can be told apart from random by a KS test."
    return note + (
        f", but its kernels have under {MIN_TAPS_FOR_INIT_TEST} taps, which the zoo's KS test does not judge (on so "
        "few taps it cannot tell a short training from a random init): nothing shows that they learned structure."
    )


def _trained_variant(entry: dict[str, Any], spec: VariantSpec, regime: str, control_name: str) -> str:
    parent = entry.get("parent")
    if regime == "adapter":
        return (
            f"Trained: zoo model {entry['id']}, an adapter: only its inserted {DESIGN_CHOICES[spec.design]} gates "
            f"were trained, on the frozen control {parent}. Compared with {control_name}, the 1×1 pointwise gate "
            "trained the same way at the same point, so a difference is the large kernel's."
        )
    return (
        f"Trained: zoo model {entry['id']}, an LSKA graft fine-tuned in full with the control's recipe. Compared "
        f"with {control_name}, the baseline fine-tuned the same way."
    )


@dataclass(frozen=True)
class ServiceOptions:
    weights_dir: Path = WEIGHTS_DIR
    checkpoint: Path | None = None  # the operator's --weights: trusted because the operator chose it
    max_cache: int = 6


def source_label(source: str) -> str:
    """How a model source reads in a list of choices."""
    if source in SOURCE_LABELS:
        return SOURCE_LABELS[source]
    return f"operator checkpoint {source.removeprefix(CHECKPOINT_PREFIX)} + identity LSKA graft"


class ModelSources:
    """The models behind every question, loaded on first use and kept in one bounded cache."""

    def __init__(self, options: ServiceOptions) -> None:
        self.options = options
        self.cache = ModelCache(options.max_cache)

    @property
    def names(self) -> list[str]:
        names = [ZOO, PRETRAINED]
        if self.options.checkpoint is not None:
            names.append(CHECKPOINT_PREFIX + Path(self.options.checkpoint).name)
        return names

    def check(self, source: Any) -> str:
        return check_choice("model source", source, self.names)

    @functools.cached_property
    def pretrained(self) -> SourceAvailability:
        """Whether ``yolov8n.pt`` can load here, asked once (a network probe of a few seconds at most); the
        operator's detail (paths, settings) goes to the log, visitors read ``visitor_reason`` only."""
        availability = pretrained_availability(PRETRAINED, folder=self.options.weights_dir)
        LOG.log(logging.INFO if availability.available else logging.WARNING, "%s", availability.operator_detail)
        return availability

    def label(self, source: str) -> str:
        """How a source reads in the list of choices; an unavailable ``yolov8n.pt`` says so."""
        if source == PRETRAINED and not self.pretrained.available:
            return UNAVAILABLE_LABEL
        return source_label(source)

    def readiness(self, source: str, spec: VariantSpec) -> tuple[Readiness, Readiness]:
        """Trained or not, for the baseline and the variant, from the manifest and the start-up probe: no model
        is loaded, so the page can say it before any button is pressed."""
        if source == ZOO:
            from lska_demo.zoo.plan import NC

            manifest, spec = self.manifest(), replace(spec, nc=NC)
            regime = self.zoo_regime(spec)
            control = zoo_control(regime, spec)

            def side(wanted: VariantSpec, entry: dict[str, Any] | None) -> Readiness:
                role, caption = side_role(wanted), zoo_caption(wanted, regime if entry else None)
                if entry is None:
                    reason = untrained_reason(wanted, manifest)
                    text = f"Untrained: {model_words(wanted)}: {reason}, so this is {UNTRAINED_EFFECT}."
                    return Readiness(False, text, role, caption)
                return Readiness(True, trained_status(entry, wanted, manifest), role, caption)

            return side(control, manifest.find(control, regime=regime)), side(spec, manifest.find(spec, regime=regime))
        return self._operator_readiness(source, spec)

    def _operator_readiness(self, source: str, spec: VariantSpec) -> tuple[Readiness, Readiness]:
        """``readiness`` of ``yolov8n.pt`` or the operator's checkpoint: the file as published, and its graft."""
        name = PRETRAINED if source == PRETRAINED else source.removeprefix(CHECKPOINT_PREFIX)
        grafted = model_words(spec).replace(f"YOLOv8{spec.scale}", name, 1)
        roles = (f"Baseline: {name}", f"{grafted} (identity graft)")
        if source == PRETRAINED and not self.pretrained.available:
            text = f"Untrained: {PRETRAINED}: {self.pretrained.visitor_reason} So this side is {UNTRAINED_EFFECT}."
            return (
                Readiness(False, text, "Baseline", "Baseline: YOLOv8n (random weights)"),
                Readiness(False, text, side_role(spec), f"{model_words(spec)} (random weights)"),
            )
        return (
            Readiness(True, f"Trained: {name} as published, no LSKA.", "Baseline", roles[0]),
            Readiness(
                True,
                f"Trained {name} with an identity-initialised LSKA graft: it predicts exactly what the "
                "baseline predicts until it is fine-tuned.",
                side_role(spec),
                roles[1],
            ),
        )

    def zoo_regime(self, spec: VariantSpec) -> str:
        """The regime that answers a zoo choice of ``spec``: its variant's (``Manifest.trained``), else the full
        fine-tune (whose control is the fine-tuned baseline)."""
        from lska_demo.zoo.manifest import regime_of
        from lska_demo.zoo.plan import NC

        variant = self.manifest().trained(replace(spec, nc=NC))
        return regime_of(variant) if variant else "finetune"

    def zoo_control(self, spec: VariantSpec) -> VariantSpec:
        """The architecture the zoo compares ``spec`` with: the control of its regime (``zoo.control_spec``)."""
        return zoo_control(self.zoo_regime(spec), spec)

    def manifest(self) -> Any:
        from lska_demo.zoo.manifest import Manifest

        return Manifest.shared(self.options.weights_dir)  # read-only here: parsed once per change of the file

    def pair(self, source: str, spec: VariantSpec) -> tuple[LoadedModel, LoadedModel]:
        """The baseline and the LSKA variant ``spec`` of a source. In the zoo the baseline is the control of
        the variant's own training regime (``zoo.control_spec``): the fine-tuned baseline for a full graft, the
        pointwise gate adapter at the same point and seed for an adapter."""
        if source == ZOO:
            variant = self.zoo_side(spec)
            regime = (variant.entry or {}).get("regime") or "finetune"
            return self.zoo_side(zoo_control(regime, spec), regime), variant
        base = self._operator_baseline(source)
        return base, self._operator_variant(source, base, spec)

    def architecture(self, spec: VariantSpec) -> LoadedModel:
        """A random-weight model of ``spec``: cost depends on the architecture only."""
        return self.cache.get(
            ("architecture", spec), lambda: LoadedModel(build_model(spec), spec.name, False, "architecture", 640)
        )

    def zoo_side(self, spec: VariantSpec, regime: str | None = None) -> LoadedModel:
        """A shipped zoo model of ``regime`` (None: the preferred regime that has one, ``Manifest.trained``),
        or a random one that says why. The key holds the file's hash, so models the zoo job finishes while
        the app runs appear without a restart."""
        from lska_demo.zoo.plan import NC

        spec = replace(spec, nc=NC)
        manifest = self.manifest()
        entry = manifest.trained(spec) if regime is None else manifest.find(spec, regime=regime)
        key = (ZOO, spec, regime, entry["sha256"] if entry else None)
        return self.cache.get(key, lambda: self._load_zoo(spec, entry, manifest))

    def zoo_model(self, spec: VariantSpec) -> LoadedModel:
        """``zoo_side`` of the preferred regime, loaded afresh and not kept: for a one-off look at a model's
        gates (the receptive field's reach over every k) that must not push the compared pair out of the cache."""
        from lska_demo.zoo.plan import NC

        manifest, spec = self.manifest(), replace(spec, nc=NC)
        return self._load_zoo(spec, manifest.trained(spec), manifest)

    def _load_zoo(self, spec: VariantSpec, entry: dict[str, Any] | None, manifest: Any) -> LoadedModel:
        """The zoo's model of ``entry``, or, where there is none, a random one whose status says why."""
        from lska_demo.zoo.load import load_entry
        from lska_demo.zoo.manifest import regime_of

        if entry is None:
            status = f"Untrained: {untrained_reason(spec, manifest)}, so this is {UNTRAINED_EFFECT}."
            return LoadedModel(build_model(spec), spec.name, False, status, ZOO_IMGSZ)
        model = load_entry(entry, self.options.weights_dir, manifest)
        found = {**entry, "regime": regime_of(entry)}
        imgsz = int((entry.get("recipe") or {}).get("imgsz", ZOO_IMGSZ))
        return LoadedModel(model, entry["id"], True, trained_status(found, spec, manifest), imgsz, entry=found)

    def _operator_baseline(self, source: str) -> LoadedModel:
        """yolov8n.pt or the operator's checkpoint; offline without the file, or for a file refused as unsafe or
        damaged (``checkpoints.CheckpointError``, status "Refused: ..."): a random COCO-shaped model."""
        from lska_demo.model.checkpoints import CheckpointError
        from lska_demo.zoo.load import load_checkpoint_model, load_pretrained
        from lska_demo.zoo.manifest import ZooError

        def load() -> LoadedModel:
            try:
                if source == PRETRAINED and not self.pretrained.available:
                    raise ZooError(f"{PRETRAINED}: {self.pretrained.visitor_reason}")
                if source == PRETRAINED:
                    model = load_pretrained(PRETRAINED, folder=self.options.weights_dir)
                else:
                    model = load_checkpoint_model(self.options.checkpoint)
            except ZooError as err:
                status = f"Untrained: {err} Showing a randomly initialised YOLOv8n (80 classes): no detections."
                if isinstance(err.__cause__, CheckpointError):  # there is a file, and it was refused: say so
                    status = (
                        f"{REFUSED} {err}. It was not loaded: this side is a randomly initialised YOLOv8n (80 "
                        "classes) instead, with no detections."
                    )
                return LoadedModel(build_model(VariantSpec(nc=80)), "yolov8n (random)", False, status, PRETRAINED_IMGSZ)
            name = PRETRAINED if source == PRETRAINED else Path(self.options.checkpoint).name
            imgsz = int((getattr(model, "args", None) or {}).get("imgsz", PRETRAINED_IMGSZ) or PRETRAINED_IMGSZ)
            return LoadedModel(model, name, True, f"Trained: {name} as published, no LSKA.", imgsz)

        return self.cache.get((source, "baseline"), load)

    def _operator_variant(self, source: str, base: LoadedModel, spec: VariantSpec) -> LoadedModel:
        def load() -> LoadedModel:
            variant_spec = spec_of(base.model, k=spec.k, point=spec.point, block=spec.block, design=spec.design)
            if not base.trained:
                missing = f"no {source} weights to graft onto"
                if base.status.startswith(REFUSED):
                    missing = f"the {source} weights were refused (see the baseline): nothing to graft onto"
                status = (
                    f"Untrained: {missing}, so {variant_spec.name} is randomly initialised. No detections are shown."
                )
                return LoadedModel(build_model(variant_spec), variant_spec.name, False, status, base.imgsz)
            # a new model (the cached baseline is only read), shown untrained: the exact identity, so its
            # detections are the baseline's; `train --mode graft` starts near it (gate_scale 1e-3) to learn
            model = graft(base.model, variant_spec, gate_scale=0.0)
            status = (
                f"Identity-initialised graft of {base.name}: {DESIGN_CHOICES[spec.design]} k={spec.k} at "
                f"'{spec.point}' starts as the identity, "
                "so this model predicts exactly what the baseline predicts until it is fine-tuned "
                "(the fine-tune starts from a near-identity graft whose large kernels receive a gradient: "
                f"python -m lska_demo train --mode graft --base {base.name} --data your.yaml --k {spec.k} "
                f"--point {spec.point} --design {spec.design})."
            )
            return LoadedModel(model.eval(), f"{variant_spec.name} (graft)", True, status, base.imgsz)

        return self.cache.get((source, spec, base.trained), load)
