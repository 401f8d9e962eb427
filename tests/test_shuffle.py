"""The kernel-shuffle check: same values in random places, so only where training put them can change a score."""

from __future__ import annotations

import pytest
import torch

from lska_demo.model.yolo import VariantSpec, build_model, large_kernels
from lska_demo.zoo.manifest import ZooError
from lska_demo.zoo.shuffle import record_kernel_shuffles, shuffle_kernels, shuffle_summary


def test_a_shuffle_moves_every_kernel_value_and_nothing_else() -> None:
    model = build_model(VariantSpec(k=23, point="neck", nc=4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kernels = set(large_kernels(model))
    shuffle_kernels(model, seed=0)
    after = model.state_dict()
    for key, value in after.items():
        if key in kernels:
            assert not torch.equal(value, before[key]), f"{key} kept its arrangement"
            assert torch.equal(value.flatten().sort().values, before[key].flatten().sort().values), "same values"
        else:
            assert torch.equal(value, before[key]), f"{key} is not a large kernel and must not move"
    again = build_model(VariantSpec(k=23, point="neck", nc=4))
    again.load_state_dict(before)
    shuffle_kernels(again, seed=0)
    assert all(torch.equal(again.state_dict()[k], after[k]) for k in kernels), "a seed gives one permutation"


def test_the_summary_counts_the_shuffles_that_score_as_high_as_the_trained_model() -> None:
    summary = shuffle_summary(0.61, [0.60, 0.59, 0.61, 0.58])
    assert summary["drop"] == pytest.approx(0.61 - 0.595)
    assert summary["p"] == pytest.approx(2 / 5)  # itself plus the one shuffle that tied
    assert shuffle_summary(0.61, [0.60, 0.59])["p"] == pytest.approx(1 / 3)  # every shuffle lower: the smallest p
    assert shuffle_summary(0.61, [0.62, 0.63])["drop"] < 0


def test_only_shipped_gates_with_large_kernels_can_be_shuffled() -> None:
    from lska_demo.cli.main import main

    with pytest.raises(ZooError, match="yolov8n-s0"):
        record_kernel_shuffles(["yolov8n-s0"])  # the baseline has no large kernel
    assert main(["kernel-shuffle", "no-such-model", "--json"]) == 2
