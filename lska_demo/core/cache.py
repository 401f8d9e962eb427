"""A bounded, thread-safe cache of models, and the record of what the UI must say about each."""

from __future__ import annotations

import copy
import platform
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class LoadedModel:
    """A cached model and what the UI must say about it. ``trained`` False: random weights, no detections."""

    model: nn.Module
    name: str
    trained: bool
    status: str
    imgsz: int
    entry: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    fused: nn.Module | None = field(default=None, repr=False)  # use_fused's copy, built on first use
    fused_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # the copy's own

    @contextmanager
    def use(self) -> Iterator[nn.Module]:
        """Exclusive use of the model: forward passes at other sizes and CAM/ERF hooks must not interleave."""
        with self.lock:
            yield self.model

    @contextmanager
    def use_fused(self) -> Iterator[nn.Module]:
        """Exclusive use of a copy with each BatchNorm folded into its convolution (and, on x86 CPUs, its weights
        in channels-last order), for detection only: what Ultralytics' ``predict`` runs (each about 10 % faster on
        CPU, outputs equal to float rounding). Built on first use; the model itself stays unfused for grafting,
        hooks (CAM, ERF) and parameter counts.

        The copy has its own lock: a comparison never waits for an ERF, a CAM or a latency run that holds the model
        itself (a visitor's detections once waited out another visitor's whole 16-image ERF on the same pair).
        """
        with self.fused_lock:
            if self.fused is None:
                with self.lock:  # copied while no other thread's hooks sit on the model
                    self.fused = fused_copy(self.model)
            yield self.fused


def fused_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with Conv+BatchNorm pairs fused (Ultralytics' ``fuse``), or the copy as it is
    when the model has no ``fuse``; in channels-last memory order where Ultralytics' ``AutoBackend`` puts it
    (``channels_last_pays``), so that a comparison runs the very convolutions its ``predict`` runs."""
    duplicate = copy.deepcopy(model)
    fuse = getattr(duplicate, "fuse", None)
    fused = (fuse(verbose=False) if callable(fuse) else duplicate).eval()
    if channels_last_pays(fused):
        fused.to(memory_format=torch.channels_last)
    return fused


def channels_last_pays(model: nn.Module) -> bool:
    """Whether oneDNN runs ``model``'s convolutions faster with channels-last weights: a CPU model on x86 with
    oneDNN enabled (Ultralytics 8.4's ``AutoBackend`` rule for CPUs; the input may stay contiguous)."""
    parameter = next(model.parameters(), None)
    on_cpu = parameter is None or parameter.device.type == "cpu"
    mkldnn = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
    return on_cpu and mkldnn and platform.machine() in {"AMD64", "x86_64"}


class ModelCache:
    """A thread-safe LRU of at most ``maxsize`` models; each key is built once even under concurrent requests."""

    def __init__(self, maxsize: int = 6) -> None:
        if maxsize < 2:
            raise ValueError("the model cache needs room for at least 2 models (a baseline and a variant)")
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, loader: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:  # a second request for the same key waits for the first build instead of repeating it
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            try:
                value = loader()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
            return value

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
