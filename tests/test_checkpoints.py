"""Operator checkpoints load with ``weights_only=True``: the app's own LSKA checkpoints do, a pickle that would
run code or is damaged is refused with a plain message naming the file only, and nothing in it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lska_demo.model.checkpoints import lska_classes, supported
from lska_demo.model.kernels import LSKA, KernelSpec
from lska_demo.model.yolo import C2fLSKA, VariantSpec, build_model, save_checkpoint
from lska_demo.zoo.load import load_checkpoint_model
from lska_demo.zoo.manifest import ZooError

pytestmark = pytest.mark.skipif(not supported(), reason="weights_only loading needs torch 2.6+")


class _RunsCode:
    """Unpickling this creates ``marker``: proof that a load ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def test_the_apps_lska_checkpoint_loads_and_predicts_the_same(tmp_path: Path) -> None:
    model = build_model(VariantSpec(k=23, point="sppf", nc=4)).eval()
    path = save_checkpoint(model, tmp_path / "lska.pt")
    loaded = load_checkpoint_model(path)
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.allclose(loaded(x)[0], model.half().float()(x)[0], atol=1e-3)  # saved in half precision
    assert any(isinstance(m, LSKA) for m in loaded.modules()) and not loaded.training


def test_the_safe_globals_are_the_apps_own_classes() -> None:
    classes = set(lska_classes())
    assert {LSKA, KernelSpec, C2fLSKA, VariantSpec} <= classes
    assert all(c.__module__ in ("lska_demo.model.kernels", "lska_demo.model.yolo") for c in classes)


def test_a_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"model": _RunsCode(marker)}, tmp_path / "evil.pt")
    with pytest.raises(ZooError, match=r"evil\.pt cannot be loaded with weights_only=True") as caught:
        load_checkpoint_model(tmp_path / "evil.pt")
    assert not marker.exists()
    assert str(tmp_path) not in str(caught.value)


def test_a_damaged_file_is_refused_plainly(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ZooError, match=r"junk\.pt cannot be loaded") as caught:
        load_checkpoint_model(tmp_path / "junk.pt")
    assert str(tmp_path) not in str(caught.value)
