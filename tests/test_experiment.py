"""The paired experiment: statistics, and one real end-to-end run on the tiny benchmark checked against its
runs' own metrics."""

import json
import statistics
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from scipy import stats

from lska_demo.core.stats import compare_paired
from lska_demo.experiment import paired as experiment
from lska_demo.experiment.paired import ExperimentError
from lska_demo.model.yolo import VariantSpec, build_model, lska_layers, save_checkpoint
from lska_demo.train.trainer import Recipe, TrainResult, evaluate
from lska_demo.zoo.load import load_checkpoint_model

TINY = Recipe(epochs=1, imgsz=64, batch=4, workers=0)


def test_paired_statistics_are_the_zoo_reports() -> None:
    control, variant = [0.50, 0.52, 0.47, 0.55], [0.53, 0.54, 0.50, 0.57]
    s = experiment.paired(control, variant, [0, 1, 2, 3])
    expected = compare_paired(dict(enumerate(variant)), dict(enumerate(control)))
    assert s["differences"] == list(expected.differences) and s["verdict"] == expected.verdict
    assert s["p_value"] == pytest.approx(stats.ttest_rel(variant, control).pvalue)
    assert (s["n"], s["higher"], s["lower"]) == (4, 4, 0) and s["verdict"].startswith("higher, significant")
    assert experiment.paired([0.5, 0.6], [0.6, 0.5], [0, 1])["verdict"] == "mixed on two seeds, too few seeds to tell"
    assert not hasattr(experiment, "paired_summary")  # one implementation of the statistics: lska_demo.core.stats


def test_experiment_end_to_end_from_a_base(tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        base = save_checkpoint(build_model(VariantSpec(nc=4)), tmp_path / "base.pt")
    out = tmp_path / "report"
    spec = VariantSpec(k=7, point="sppf")
    report = experiment.run(tiny_data, spec, 2, base, TINY, out, progress=False, latency_repeats=1)
    state = json.loads((out / "state.json").read_text())
    assert set(state["runs"]) == {"control-s0", "lska-s0", "control-s1", "lska-s1"}
    for row in report["seeds"]:
        for arm in ("control", "lska"):
            run = state["runs"][f"{arm}-s{row['seed']}"]
            assert run["mode"] == ("finetune" if arm == "control" else "graft")
            assert row[arm] == run["metrics"] == evaluate(run["weights"], tiny_data, "test", imgsz=64, batch=4)
            assert len(lska_layers(load_checkpoint_model(run["weights"]))) == (arm == "lska")
    control = [r["control"]["mAP50-95"] for r in report["seeds"]]
    variant = [r["lska"]["mAP50-95"] for r in report["seeds"]]
    assert report["paired"]["mAP50-95"]["differences"] == [v - c for c, v in zip(control, variant, strict=True)]
    assert report["paired"]["mAP50-95"]["mean"] == pytest.approx(statistics.fmean(variant) - statistics.fmean(control))
    assert report["paired"]["mAP50-95"]["verdict"].endswith("too few seeds to tell")  # stats.py's wording at 2 seeds
    cost = report["cost"]
    assert cost["lska"]["params"] > cost["control"]["params"] and cost["lska"]["gflops"] > cost["control"]["gflops"] > 0
    assert cost["latency_threads"] == 1 and "batch 1, 1 torch thread" in (out / "report.md").read_text()
    assert json.loads((out / "report.json").read_text())["paired"] == report["paired"]
    assert report["zoo"] == [] and "zoo's runs" not in (out / "report.md").read_text()  # not the zoo's experiment
    assert "| 0 |" in (out / "report.md").read_text() and (out / "pairs.png").stat().st_size > 0

    def no_training(*args: object, **kwargs: object) -> TrainResult:
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(experiment, "train", no_training)  # resume: everything is done already
    again = experiment.run(tiny_data, spec, 2, base, TINY, out, progress=False, latency_repeats=1)
    assert again["seeds"] == report["seeds"]
    with pytest.raises(ExperimentError, match="different experiment"):
        experiment.run(tiny_data, spec, 3, base, TINY, out, progress=False, latency_repeats=1)


def test_scratch_trains_both_arms_from_their_yaml(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    def fake_train(mode: str, data: object, recipe: Recipe, spec: VariantSpec, **kwargs: object) -> TrainResult:
        calls.append((mode, spec.name))
        path = save_checkpoint(build_model(spec), tmp_path / f"{spec.name}-{recipe.seed}.pt")
        return TrainResult(path, {"mAP50": 0.0, "mAP50-95": 0.0}, 1.0)

    def fake_evaluate(weights: str, *args: object, **kwargs: object) -> dict[str, float]:
        value = 0.3 + 0.1 * ("lska" in Path(weights).name) + 0.01 * int(Path(weights).stem[-1])
        return {"mAP50": value, "mAP50-95": value}

    monkeypatch.setattr(experiment, "train", fake_train)
    monkeypatch.setattr(experiment, "evaluate", fake_evaluate)
    report = experiment.run(tiny_data, VariantSpec(k=11, point="neck"), [0, 1, 2], None, TINY, tmp_path / "r", False, 1)
    assert calls == [("scratch", "yolov8n"), ("scratch", "yolov8n-lska11-neck")] * 3
    assert report["paired"]["mAP50"]["differences"] == pytest.approx([0.1, 0.1, 0.1])
    assert report["paired"]["mAP50"]["p_value"] == 0.0  # identical non-zero differences: no spread, p is 0
    assert report["paired"]["mAP50"]["verdict"].startswith("higher, significant at 0.05")


def test_bad_inputs_are_explained(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match="needs an LSKA variant"):
        experiment.run(tiny_data, VariantSpec(), 1, None, TINY, tmp_path, False)
    with pytest.raises(ExperimentError, match="neither a checkpoint file nor a zoo model id"):
        experiment.run(tiny_data, VariantSpec(k=7), 1, tmp_path / "missing.pt", TINY, tmp_path, False)


def test_a_rerun_of_the_zoos_experiment_is_put_beside_the_zoos_runs(tiny_data: Path, tmp_path: Path) -> None:
    from lska_demo.benchmark.data import dataset_hash
    from lska_demo.zoo.manifest import Manifest
    from lska_demo.zoo.match import zoo_counterparts

    recipe, spec = TINY.overrides(), VariantSpec(k=23, point="sppf", nc=4)
    zoo_metrics = {"control": {"mAP50": 0.7, "mAP50-95": 0.5}, "lska": {"mAP50": 0.72, "mAP50-95": 0.52}}

    def entry(model_id: str, mode: str, arm_spec: VariantSpec, seed: int, parent: str | None) -> dict:
        arm = "lska" if arm_spec.k else "control"
        return {"id": model_id, "mode": mode, "spec": asdict(arm_spec), "parent": parent, "seed": seed,
                "recipe": {**recipe, "seed": seed}, "data_hash": dataset_hash(tiny_data.parent),
                "metrics": zoo_metrics[arm]}  # fmt: skip

    weights = tmp_path / "weights"
    Manifest(
        {"data_hash": dataset_hash(tiny_data.parent)},
        [
            {"id": "parent-s0", "sha256": "0123456789ab" + "0" * 52},
            entry("control-zoo-s1", "finetune", spec.baseline(), 1, "parent-s0"),
            entry("lska-zoo-s1", "graft", spec, 1, "parent-s0"),
            entry("lska-zoo-s2", "graft", spec, 2, "parent-s0"),  # another seed: no run of the experiment
        ],
    ).save(weights)
    runs = {
        "control-s1": {"seed": 1, "arm": "control", "mode": "finetune", "metrics": dict(zoo_metrics["control"])},
        "lska-s1": {"seed": 1, "arm": "lska", "mode": "graft", "metrics": {"mAP50": 0.72, "mAP50-95": 0.521}},
    }
    exp = {"data": str(tiny_data), "spec": asdict(spec), "recipe": recipe, "base": "x/base/parent-s0-0123456789ab.pt"}
    rows = zoo_counterparts(exp, runs, weights)
    assert [(r["arm"], r["zoo_id"], r["exact"]) for r in rows] == [
        ("control", "control-zoo-s1", True),
        ("lska", "lska-zoo-s1", False),
    ]
    assert rows[1]["max_abs_difference"] == pytest.approx(0.001)
    assert "1 of 2 runs reproduce the zoo's metrics exactly" in experiment._zoo_lines(rows)[-2]
    # another base, another recipe or other data: not the zoo's experiment, nothing to put beside it
    assert zoo_counterparts({**exp, "base": "x/base/parent-s0-ffffffffffff.pt"}, runs, weights) == []
    assert zoo_counterparts({**exp, "base": "x/base.pt"}, runs, weights) == []
    assert zoo_counterparts({**exp, "recipe": {**recipe, "lr0": 1.0}}, runs, weights) == []
    Manifest({"data_hash": "another"}, Manifest.load(weights).models).save(weights)
    assert zoo_counterparts(exp, runs, weights) == []


def test_training_repeats_to_the_last_digit_on_one_machine(tiny_data: Path, tmp_path: Path) -> None:
    """What the zoo-rerun section relies on: the same run on the same machine gives the same metrics, and the
    run records the machine it was trained on."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        base = save_checkpoint(build_model(VariantSpec(nc=4)), tmp_path / "base.pt")
    exp = experiment.Experiment(str(tiny_data), VariantSpec(k=7, point="sppf", nc=4), (0,), TINY, str(base))
    first, again = (experiment._run_one(exp, 0, "lska", tmp_path / name, "test") for name in ("a", "b"))
    assert first["metrics"] == again["metrics"]
    assert first["machine"]["torch_threads"] >= 1 and first["machine"]["cpu"]
