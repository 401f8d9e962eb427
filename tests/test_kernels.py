"""The LSKA family against independent references and closed forms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lska_demo.model.kernels import (
    DESIGNS,
    LKA,
    LSKA,
    PAPER_KERNEL_SIZES,
    LSKABlock,
    build_block,
    equivalent_kernel,
    kernel_spec,
)

# The authors' kernel table (their repository's models/van.py), typed in by hand: k -> (d, a, a padding, K, K padding).
TABLE = {
    7: (2, 3, 1, 3, 2),
    11: (2, 3, 1, 5, 4),
    23: (3, 5, 2, 7, 9),
    35: (3, 5, 2, 11, 15),
    41: (3, 5, 2, 13, 18),
    53: (3, 5, 2, 17, 24),
}


class ReferenceLSKA(nn.Module):
    """A transcription of the authors' module: explicit convs per k, written independently of the package."""

    def __init__(self, dim: int, k_size: int) -> None:
        super().__init__()
        d, a, pa, big_k, pk = TABLE[k_size]
        self.conv0h = nn.Conv2d(dim, dim, kernel_size=(1, a), stride=(1, 1), padding=(0, pa), groups=dim)
        self.conv0v = nn.Conv2d(dim, dim, kernel_size=(a, 1), stride=(1, 1), padding=(pa, 0), groups=dim)
        self.conv_spatial_h = nn.Conv2d(
            dim, dim, kernel_size=(1, big_k), stride=(1, 1), padding=(0, pk), groups=dim, dilation=d
        )
        self.conv_spatial_v = nn.Conv2d(
            dim, dim, kernel_size=(big_k, 1), stride=(1, 1), padding=(pk, 0), groups=dim, dilation=d
        )
        self.conv1 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.clone()
        attn = self.conv0h(x)
        attn = self.conv0v(attn)
        attn = self.conv_spatial_h(attn)
        attn = self.conv_spatial_v(attn)
        attn = self.conv1(attn)
        return u * attn


class ReferenceVANLKA(nn.Module):
    """VAN's LKA (Guo et al. 2022) as published: 5x5, 7x7 dilation 3, 1x1."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv_spatial = nn.Conv2d(dim, dim, 7, stride=1, padding=9, groups=dim, dilation=3)
        self.conv1 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.clone()
        attn = self.conv1(self.conv_spatial(self.conv0(x)))
        return u * attn


@pytest.mark.parametrize("k", PAPER_KERNEL_SIZES)
def test_official_state_dict_loads_strict_and_outputs_match(k: int) -> None:
    torch.manual_seed(k)
    reference = ReferenceLSKA(8, k)
    ours = LSKA(8, k)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 8, 29, 31)
    assert torch.equal(ours(x), reference(x))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]


@pytest.mark.parametrize("k", PAPER_KERNEL_SIZES)
def test_spec_matches_the_authors_table(k: int) -> None:
    d, a, pa, big_k, pk = TABLE[k]
    s = kernel_spec(k)
    assert (s.dilation, s.plain, s.dilated) == (d, a, big_k)
    lska = LSKA(2, k)  # the 'same' padding of each conv is the authors' (depthwise() computes it)
    assert [c.padding for c in lska.depthwise_convs()] == [(0, pa), (pa, 0), (0, pk), (pk, 0)]
    assert s.plain + s.dilation * (s.dilated - 1) == k


def test_lka_at_23_is_van_lka() -> None:
    reference = ReferenceVANLKA(6)
    ours = LKA(6, 23)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 6, 40, 40)
    assert torch.allclose(ours(x), reference(x), atol=1e-6)


@pytest.mark.parametrize("k", [1, 3, 5, 9, 13, 15, 23.0, "23", True, 0, -7])
def test_invalid_kernel_size_names_the_valid_ones(k: object) -> None:
    with pytest.raises(ValueError, match="7, 11, 23, 35, 41, 53"):
        LSKA(4, k)  # type: ignore[arg-type]


@pytest.mark.parametrize(("k", "d", "big_k"), [(17, 3, 5), (29, 3, 9), (47, 3, 15), (59, 3, 19)])
def test_general_rule_extends_to_odd_integer_kernels(k: int, d: int, big_k: int) -> None:
    s = kernel_spec(k)
    assert (s.dilation, s.plain, s.dilated) == (d, 2 * d - 1, big_k)
    y = LSKA(4, k)(torch.randn(1, 4, 20, 20))
    assert y.shape == (1, 4, 20, 20)


def _closed_form_params(design: str, c: int, k: int) -> int:
    s = kernel_spec(k)
    a, big_k = s.plain, s.dilated
    spatial, convs = {
        "lka_trivial": (k * k, 1),
        "lska_trivial": (2 * k, 2),
        "lka": (a * a + big_k * big_k, 2),
        "lska": (2 * a + 2 * big_k, 4),
    }[design]
    return c * spatial + c * convs + c * c + c  # depthwise weights, their biases, the 1x1 with bias


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("k", PAPER_KERNEL_SIZES)
def test_parameter_counts_match_closed_forms(design: str, k: int) -> None:
    c = 16
    module = DESIGNS[design](c, k)
    assert sum(p.numel() for p in module.parameters()) == _closed_form_params(design, c, k)


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("k", [7, 23, 53])
def test_equivalent_kernel_reproduces_the_cascade(design: str, k: int) -> None:
    torch.manual_seed(0)
    gate = DESIGNS[design](3, k)
    kernel = equivalent_kernel(gate)
    assert kernel.shape == (3, k, k)
    x = torch.zeros(1, 3, 3 * k, 3 * k)
    x[..., k : 2 * k, k : 2 * k] = torch.randn(1, 3, k, k)  # zero margin: border padding plays no part
    cascade = x
    for conv in gate.depthwise_convs():
        cascade = nn.functional.conv2d(cascade, conv.weight, None, conv.stride, conv.padding, conv.dilation, 3)
    direct = nn.functional.conv2d(x, kernel[:, None], padding=k // 2, groups=3)
    assert torch.allclose(cascade, direct, atol=1e-5)


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("k", PAPER_KERNEL_SIZES)
def test_equivalent_kernel_spans_exactly_k(design: str, k: int) -> None:
    gate = DESIGNS[design](1, k)
    for conv in gate.depthwise_convs():
        nn.init.constant_(conv.weight, 1.0)
    kernel = equivalent_kernel(gate)[0]
    assert kernel[0].abs().sum() > 0 and kernel[-1].abs().sum() > 0  # reaches top and bottom rows
    assert kernel[:, 0].abs().sum() > 0 and kernel[:, -1].abs().sum() > 0  # and both side columns
    # a = 2d - 1 >= d, so the plain kernel fills the dilation's gaps: every one of the k x k taps is reached
    assert bool((kernel > 0).all())


@pytest.mark.parametrize("block", ["gate", "van"])
def test_identity_reset_passes_input_through(block: str) -> None:
    module = build_block(block, 8, 23)
    module.reset_to_identity(scale=0.0)
    x = torch.randn(1, 8, 16, 16)
    assert torch.equal(module(x), x)
    module.reset_to_identity()  # the grafting default: near-identity, so the kernels still get a gradient
    assert not torch.equal(module(x), x)
    assert torch.allclose(module(x), x, rtol=0.05, atol=0.05)


def test_van_block_has_van_names() -> None:
    names = {n.split(".")[0] for n, _ in LSKABlock(4, 7).named_parameters()}
    assert names == {"proj_1", "spatial_gating_unit", "proj_2"}


def test_stages_end_in_attention() -> None:
    gate = LSKA(4, 11)
    x = torch.randn(1, 4, 12, 12)
    stages = gate.stages(x)
    assert [n for n, _ in stages] == ["conv0h", "conv0v", "conv_spatial_h", "conv_spatial_v", "conv1"]
    assert torch.equal(stages[-1][1] * x, gate(x))
