"""The Teach tab: the four gate designs explained with figures, and the zoo model's trained kernels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lska_demo.app.inputs import VariantChoice, check_choice, check_k, check_step
from lska_demo.app.sources import ModelSources
from lska_demo.present.teach.text import pipelines_html, teaching_text, weights_table
from lska_demo.present.teach.views import TeachView, TrainedView


@dataclass
class TeachResult:
    """The Teach tab's views that depend on k alone."""

    pipelines_html: str
    weights_table: list[dict[str, Any]]
    text: str
    dilation: TeachView
    erf: TeachView
    cost: TeachView


class TeachService:
    """Answers the Teach tab; only the trained kernels need a model, the rest is drawn from k alone."""

    def __init__(self, models: ModelSources) -> None:
        self.models = models

    @staticmethod
    def overview(k: Any) -> TeachResult:
        """Everything that depends on k alone: the designs as pipelines, their weights, the worked text, what
        dilation reads, the ERF against k and the cost against k."""
        from lska_demo.present.teach import views

        k = check_k(k)
        return TeachResult(
            pipelines_html=pipelines_html(k),
            weights_table=weights_table(k),
            text=teaching_text(k, views.rank_of(views.TEXT_TARGET, k)),
            dilation=views.dilation_view(k),
            erf=views.erf_view(k),
            cost=views.cost_view(k),
        )

    @staticmethod
    def cascade(k: Any, source: Any, step: Any) -> TeachView:
        """The four designs' cascades after ``step`` depthwise convs of an impulse or a small pattern."""
        from lska_demo.present.teach import views

        k, source = check_k(k), check_choice("input", source, list(views.CASCADE_INPUTS))
        return views.cascade_view(k, source, check_step(step, views.cascade_steps()))

    def gates(self, choice: VariantChoice) -> list[tuple[str, str]]:
        """(label, name) of every large-kernel gate of the zoo model of this variant (neck 4, residual 6)."""
        from lska_demo.analysis.trained_kernels import gates_in
        from lska_demo.present.teach.views import gate_label

        side = self.models.zoo_side(choice.spec())
        with side.use() as model:
            return [(gate_label(name), name) for name in gates_in(model)]

    def trained(self, choice: VariantChoice, gate: Any) -> TrainedView:
        """The most energetic channels of one gate of the zoo model (the first gate when ``gate`` is None);
        random weights, labelled as such, where the zoo has no trained model of this variant."""
        from lska_demo.analysis.trained_kernels import gates_in
        from lska_demo.present.teach import views

        side = self.models.zoo_side(choice.spec())
        with side.use() as model:
            gates = gates_in(model)
            name = next(iter(gates)) if gate is None else check_choice("gate", gate, list(gates))
            change = (side.entry or {}).get("kernel_change")
            where = f"{side.name}, {views.gate_label(name)}"
            return views.trained_view(gates[name], side.trained, where, change)

    @staticmethod
    def playground(k: Any, name: Any) -> tuple[TeachView, TeachView]:
        """A pattern filtered by each design, and whether separable kernels can draw it as a kernel."""
        from lska_demo.present.teach import views

        k, name = check_k(k), check_choice("pattern", name, list(views.PATTERNS))
        return views.playground_view(k, name), views.rank_figure_view(k, name)

    @staticmethod
    def choices() -> dict[str, Any]:
        """What the pickers offer: cascade inputs, playground patterns, the step-through's last step."""
        from lska_demo.present.teach import views

        return {"inputs": list(views.CASCADE_INPUTS), "patterns": list(views.PATTERNS), "steps": views.cascade_steps()}
