"""Gradient passes and FLOP counting in parallel threads: none fails (FlopCounterMode's global module hooks
broke a concurrent autograd.grad: a visitor's ERF beside another's cost table)."""

from __future__ import annotations

import threading

from lska_demo.analysis.cost import model_cost
from lska_demo.analysis.erf import module_erf
from lska_demo.model.yolo import VariantSpec, build_model

ROUNDS = 12


def test_erf_and_flop_counting_in_parallel_threads_never_fail() -> None:
    model = build_model(VariantSpec(k=7, point="sppf", nc=4))
    errors: list[str] = []
    start = threading.Barrier(2)

    def gradients() -> None:
        start.wait()
        for _ in range(ROUNDS * 4):
            try:
                module_erf("lska", k=23, dim=8, size=48)
            except RuntimeError as err:
                errors.append(f"ERF: {err}")

    def counting() -> None:
        start.wait()
        for _ in range(ROUNDS):
            try:
                model_cost(model, imgsz=64)
            except RuntimeError as err:
                errors.append(f"FLOPs: {err}")

    threads = [threading.Thread(target=gradients), threading.Thread(target=counting)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
