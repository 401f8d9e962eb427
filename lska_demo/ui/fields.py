"""Value inputs whose raw value reaches the handler, so the app's own checks (``lska_demo.app.inputs``) judge it.

Gradio's own input step runs before any handler: a slider compares the value with its bounds (``conf="abc"``
or ``None`` fails there with "The upstream Gradio app has raised an exception..."), a number rounds
(``nc=1.5`` becomes 2), a checkbox passes ``"yes"`` on, and a radio or dropdown echoes a 16 MB wrong choice
whole. With the step replaced by the identity, every such value arrives as sent and the service answers with
its short, plain message. As ``common.image_input`` does for images, the override is set on the instances
(a subclass would make Gradio write a .pyi stub at import).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

VALUE_COMPONENTS: tuple[type[gr.components.Component], ...] = (gr.Slider, gr.Number, gr.Checkbox, gr.Radio, gr.Dropdown)
"""The components whose preprocessing coerces or rejects a value before the app sees it."""


def as_sent(payload: Any) -> Any:
    """The value exactly as the visitor sent it (the identity, standing in for a component's ``preprocess``)."""
    return payload


def pass_values_through(page: gr.Blocks) -> list[gr.components.Component]:
    """Make every value input of ``page`` hand its raw value to the handlers; returns the inputs changed.

    Args:
        page: the built Blocks (call after every tab is laid out, before ``queue``/``serve``).
    """
    changed = [block for block in page.blocks.values() if isinstance(block, VALUE_COMPONENTS)]
    for component in changed:
        component.preprocess = as_sent  # type: ignore[method-assign]
    return changed
