"""Where a number was made: the CPU, its cores, the torch threads and the library versions.

Training on a CPU is deterministic on one machine, not across machines (other CPU kinds, thread counts or library
versions take other floating-point paths), so every trained model and experiment run records this beside its
metrics, and a rerun that does not come back to the last digit can say why.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_name() -> str:
    """The CPU's model name and core count, e.g. "AMD EPYC, 2 cores"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError as err:
        return f"unknown CPU ({err.strerror})"
    return f"{os.cpu_count()} cores"


def training_machine() -> dict[str, Any]:
    """The machine a model was just trained on (call it after training: Ultralytics sets torch's thread count)."""
    import torch
    import ultralytics

    return {
        "cpu": f"{platform.machine()}, {cpu_name()}",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "python": platform.python_version(),
    }
