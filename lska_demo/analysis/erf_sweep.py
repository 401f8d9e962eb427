"""Receptive field against kernel size for the four designs, on the module alone (analysis.erf.module_erf).

Every map is RepLKNet's picture (log10(contribution + 1), scaled to max 1), so all share one colour scale;
the area ratios (smallest centred square holding t of the total, as a fraction of the map) make the
growth a curve.

By default the gates carry ``teaching_gate``'s readable weights (every tap positive, 1 / taps), so the ERF
shows the reach itself; with ``readable=False`` they carry seeded random weights, whose ERF can vanish
(RepLKNet's ``relu`` of the centre output is 0 when that output is negative: the ratios are then None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lska_demo.analysis.cascade import teaching_gate
from lska_demo.analysis.erf import ERF, module_erf
from lska_demo.model.kernels import DESIGNS, PAPER_KERNEL_SIZES


@dataclass(frozen=True)
class ErfSweep:
    """``erfs[design][k]``: the module ERF; ``size``: the input's side; ``threshold``: the ratio's t."""

    erfs: dict[str, dict[int, ERF]]
    size: int
    threshold: float

    def ratios(self, design: str) -> list[tuple[int, float | None]]:
        """(k, area ratio at ``threshold``) for ``design``, k ascending."""
        return [(k, erf.ratios.get(self.threshold)) for k, erf in sorted(self.erfs[design].items())]


def erf_vs_k(
    ks: Sequence[int] = PAPER_KERNEL_SIZES,
    designs: Sequence[str] = tuple(DESIGNS),
    dim: int = 4,
    size: int = 72,
    threshold: float = 0.5,
    seed: int = 0,
    readable: bool = True,
) -> ErfSweep:
    """The module ERF of every design at every k on a seeded size x size input in [0, 1).

    Args:
        ks: kernel sizes; size should exceed the largest so the reach is not cut by the border.
        designs: keys of kernels.DESIGNS.
        dim: channels of a random gate (a readable gate has one).
        size: side of the input.
        threshold: the t of the area ratio reported by ``ratios``.
        seed: weights and input seed.
        readable: ``teaching_gate`` weights (True) or seeded PyTorch-default random weights (False).
    """
    if size <= max(ks):
        raise ValueError(f"the input ({size} px) must be wider than the largest kernel ({max(ks)})")
    erfs = {
        design: {
            k: module_erf(
                design,
                k,
                dim=1 if readable else dim,
                size=size,
                seed=seed,
                module=teaching_gate(design, k).float() if readable else None,
            )
            for k in ks
        }
        for design in designs
    }
    return ErfSweep(erfs, size, threshold)
