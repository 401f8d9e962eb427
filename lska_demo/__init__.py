"""LSKA Lens: Large Separable Kernel Attention inside Ultralytics YOLOv8, measured and explained.

Importing the package sets up an offline runtime and registers the LSKA modules with Ultralytics'
YAML model builder, so ``LSKA``, ``LSKABlock`` and ``C2fLSKA`` rows work in any model YAML.
"""

from lska_demo.core.runtime import configure_environment

configure_environment()

from lska_demo.core.runtime import configure_ultralytics  # noqa: E402
from lska_demo.model.kernels import (  # noqa: E402
    DESIGNS,
    LKA,
    LSKA,
    PAPER_KERNEL_SIZES,
    LKATrivial,
    LSKABlock,
    LSKATrivial,
    equivalent_kernel,
    kernel_spec,
)
from lska_demo.model.yolo import (  # noqa: E402
    INSERTION_POINTS,
    C2fLSKA,
    VariantSpec,
    build_model,
    export_yaml,
    graft,
    register_with_ultralytics,
)

configure_ultralytics()
register_with_ultralytics()

__all__ = [
    "DESIGNS",
    "INSERTION_POINTS",
    "LKA",
    "LSKA",
    "PAPER_KERNEL_SIZES",
    "C2fLSKA",
    "LKATrivial",
    "LSKABlock",
    "LSKATrivial",
    "VariantSpec",
    "build_model",
    "equivalent_kernel",
    "export_yaml",
    "graft",
    "kernel_spec",
    "register_with_ultralytics",
]
