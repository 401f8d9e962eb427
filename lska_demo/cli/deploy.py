"""Commands for a user's own data and deployment: experiment, check, export (issue 15)."""

from __future__ import annotations

import argparse

from lska_demo.cli.common import add_variant_arguments, command


def register(sub: argparse._SubParsersAction) -> None:
    from lska_demo.deploy import onnx as export_onnx
    from lska_demo.deploy import transfer
    from lska_demo.experiment import paired as experiment

    p = command(
        sub,
        "experiment",
        experiment.main,
        "the paired experiment on your data: control and LSKA with the same recipe per seed, a report folder",
        render=experiment.render,
    )
    add_variant_arguments(p)
    experiment.add_arguments(p)
    p = command(
        sub,
        "check",
        transfer.main,
        "the transfer check: inserted channels, shifted indices, rewritten from entries, GFLOPs, pretrained share",
        render=transfer.render_dict,
    )
    add_variant_arguments(p)
    transfer.add_arguments(p)
    p = command(
        sub,
        "export",
        export_onnx.main,
        "export a variant (zoo weights, a zoo id or your checkpoint) to ONNX and check parity with PyTorch",
        render=export_onnx.render,
    )
    add_variant_arguments(p)
    export_onnx.add_arguments(p)
