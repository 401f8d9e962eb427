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

from lska_demo.app.inputs import echo_name

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


NOT_UPLOADED = "was not uploaded to this server: upload it first (POST it to /gradio_api/upload, or pass it through "
NOT_UPLOADED += "gradio_client's handle_file) and send the path that the upload returns"


def _label(component: Any) -> str:
    """A component's label, cut short, for a message; its kind when it has none."""
    label = str(getattr(component, "label", None) or type(component).__name__.lower())
    return label if len(label) <= 60 else label[:59] + "…"


def _expected(component: Any) -> str:
    """What a file input takes, in words."""
    if isinstance(component, gr.File) and getattr(component, "file_count", "single") != "single":
        return "a list of uploaded files"
    return "an uploaded file" if isinstance(component, gr.File | gr.Image) else "a value of its kind"


def _offending_name(err: Exception) -> str:
    """The file name (never its folder) that Gradio named in a refusal of a path it did not receive as an upload."""
    text = str(err)
    path = text.removeprefix("Cannot move ").split(" to the gradio cache dir", 1)[0] if "Cannot move " in text else ""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return echo_name(name, 60) if name else ""


def input_error(err: Exception, inputs: list[Any], values: list[Any]) -> gr.Error | None:
    """The app's own message for a request Gradio's input step refused, or None for any other error.

    Gradio checks file inputs before any handler runs: a value that is not a file reference fails its data model
    (pydantic's ``ValidationError``), a path that was never uploaded fails its upload check (``InvalidPathError``),
    and a component that cannot read its value raises ``ComponentProcessingError``; each reached the visitor as
    Gradio's generic "The upstream Gradio app has raised an exception" (or ``{"error": null}`` over raw HTTP). The
    message names the input by its label and echoes nothing the visitor sent but a file's name, cut short.

    Args:
        err: what Gradio's input step raised.
        inputs: the event's input components, in order.
        values: the values sent for them.
    """
    from gradio.exceptions import ComponentProcessingError, InvalidPathError
    from pydantic import ValidationError

    if isinstance(err, InvalidPathError):
        name = _offending_name(err)
        return gr.Error(f"the file {name + ' ' if name else ''}{NOT_UPLOADED}", title="Cannot do that")
    if not isinstance(err, ValidationError | ComponentProcessingError):
        return None
    for component, value in zip(inputs, values, strict=False):  # the first input whose value its model refuses
        model = getattr(component, "data_model", None)
        if model is None or value is None:
            continue
        try:
            model.model_validate(value, context={"validate_meta": True})
        except (ValidationError, ValueError, TypeError):
            return gr.Error(
                f"{_label(component)}: expected {_expected(component)}, not {_kind(value)}", title="Cannot do that"
            )
    return gr.Error("an input of this request is not of the kind its field takes", title="Cannot do that")


def _kind(value: Any) -> str:
    """What a visitor sent, in a word or two (never the value itself: it may be huge)."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | int | float):
        return "a number" if not isinstance(value, bool) else "true/false"
    if isinstance(value, list | tuple):
        return "a list of other things"
    return "one object" if isinstance(value, dict) else f"a {type(value).__name__}"


def explain_input_errors(page: gr.Blocks) -> None:
    """Make Gradio's input step answer refused inputs with the app's own message (``input_error``), and a request
    with too few inputs with how many its endpoint takes, instead of Gradio's generic text.

    Args:
        page: the built Blocks (call after every tab is laid out, before ``queue``/``serve``).
    """
    original = page.preprocess_data

    async def preprocess_data(block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False) -> Any:
        wanted = len(block_fn.inputs)
        if len(inputs) < wanted:  # Gradio's own message echoes every value sent, however large
            raise gr.Error(
                f"this endpoint takes {wanted} inputs and the request sent {len(inputs)}", title="Cannot do that"
            )
        try:
            return await original(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as err:
            message = input_error(err, list(block_fn.inputs), list(inputs))
            if message is None:
                raise
            raise message from err

    page.preprocess_data = preprocess_data  # type: ignore[method-assign]
