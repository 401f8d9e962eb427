"""What the tabs share: the controls every tab reads, the raw upload hook, friendly errors, tables."""

from __future__ import annotations

import base64
import binascii
import functools
import html
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd
from gradio.data_classes import FileData

from lska_demo.app.service import MAX_FILE_BYTES, VISITOR_ERRORS, DomainNote, PairStatus, Readiness

log = logging.getLogger(__name__)
# Gradio recognises a handler that reports progress by this default and passes a fresh tracker on every call.
PROGRESS = gr.Progress()


@dataclass(frozen=True)
class Controls:
    """The page's shared controls, built by ``ui.app`` above the tabs; a tab reads them as its inputs.

    ``page`` is the whole Blocks, for events that run when a visitor opens the page (``page.load``).
    """

    k: gr.Radio
    point: gr.Radio
    block: gr.Radio
    source: gr.Dropdown
    image: gr.Image
    conf: gr.Slider
    iou: gr.Slider
    diagram: gr.HTML
    page: gr.Blocks
    compare_button: gr.Button  # the page's primary button (step 3 of "start here"), wired by the Compare tab
    design: gr.Dropdown  # the gate design: every endpoint that takes the variant takes it as its LAST input
    changed: Any  # the one listener of a change of k, point, block, source or design: ``follow`` chains after it

    @property
    def variant(self) -> list[Any]:
        """k, point and block: the inputs that name an LSKA variant, in the API's order (``design`` goes last)."""
        return [self.k, self.point, self.block]

    @property
    def choice(self) -> list[Any]:
        """What a shown result depends on: the variant, its gate design, the model source and the image."""
        return [*self.variant, self.design, self.source, self.image]


def settings_changed(settings: Sequence[Any]) -> Any:
    """The one listener of a change of any of ``settings``, in the browser and doing nothing: ``follow`` chains
    the work a change starts after it.

    Gradio re-dispatches a whole change event to every ``always_last`` listener of it when one of them finishes
    a deferred run, so two such listeners on one event re-run each other for as long as their runs overlap (seen
    in a browser: three minutes of 0.2 s re-runs after one change). A listener chained with ``.then`` is
    re-dispatched alone, and one in the browser is never deferred.
    """
    return gr.on([setting.change for setting in settings], None, js="() => {}", queue=False, api_visibility="private")


def follow(
    controls: Controls,
    fn: Any,
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    also: Sequence[Any] = (),
    **scheduling: Any,
) -> None:
    """Run ``fn`` when the page loads or one of ``also`` fires (a tab's own controls), and after every settings
    change (``Controls.changed``); always for the last change, never dropping one. ``scheduling`` (queue,
    progress, pool) applies to both listeners; neither is an API endpoint."""
    listen = {"api_visibility": "private", "trigger_mode": "always_last", **scheduling}
    gr.on([controls.page.load, *also], fn, inputs, outputs, **listen)
    controls.changed.then(fn, inputs, outputs, **listen)


def stale_on(triggers: Sequence[Any], results: Sequence[Any], note: Any, action: str) -> None:
    """Clear a tab's ``results`` when any of ``triggers`` changes, and say so in its ``note``.

    A result computed for other settings must not stay on screen looking current. The clearing runs in the
    browser, at the change itself, so a Compare pressed right after it can never be overtaken by it. ``note`` is
    the tab's own note, which every run rewrites: while it is empty nothing was computed yet, so there is
    nothing to explain.

    Args:
        triggers: the controls the results depend on (usually ``controls.choice``).
        results: the outputs to clear: each goes back to the value it was built with.
        note: the tab's note (Markdown), which then tells how to get the results back.
        action: the label of the button that computes them again.
    """
    message = f"⟳ *The settings or the image changed, so the results shown before were cleared: press **{action}**.*"
    initial = json.dumps([getattr(result, "value", None) for result in results], default=str)
    # A control can report the same value twice (an upload reports its file again once it reaches the server,
    # late under load); clearing then would wipe a result computed since. So the browser remembers, per tab, the
    # settings it last saw, and clears only when they really differ. An image counts by its server path, which
    # Gradio names by the file's content: an example equal to the uploaded picture changes nothing, though it
    # arrives without a size.
    js = f"""(note, ...settings) => {{
        const values = settings.map(v => v && typeof v === "object" ? v.path ?? [v.orig_name, v.size] : v);
        const key = JSON.stringify(values);
        const seen = (window.lskaStaleSeen = window.lskaStaleSeen || {{}});
        // Unchanged: return nothing, so that nothing is written. Echoing the values read at the start would
        // write them back over a result that arrived in between.
        if (seen[{json.dumps(action)}] === key) return undefined;
        seen[{json.dumps(action)}] = key;
        return [...{initial}, note ? {json.dumps(message)} : ""];
    }}"""
    gr.on(
        [trigger.change for trigger in triggers],
        None,
        [note, *triggers],
        [*results, note],
        js=js,
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )


def _side_line(role: str, side: Readiness) -> str:
    mark, kind = ("✔", "trained") if side.trained else ("✖", "untrained")
    return f'<div class="side {kind}"><b>{mark} {role}</b> — {html.escape(side.text)}</div>'


def status_html(status: PairStatus) -> str:
    """Both sides' training status, and the banner when they differ."""
    sides = [
        _side_line(side.role or role, side) for role, side in (("Baseline", status.baseline), ("LSKA", status.variant))
    ]
    lines = [*sides, banner_html(status)]
    return f'<div class="pair-status">{"".join(lines)}</div>'


def banner_html(status: PairStatus) -> str:
    """The warning a visitor must not miss above results of a mixed pair; empty when both sides are trained."""
    if not status.banner:
        return ""
    return f'<div class="banner" role="alert">⚠ {html.escape(status.banner)}</div>'


def domain_html(note: DomainNote | None) -> str:
    """The in-place note under the image: nothing for a benchmark image, reason and advice for anything else."""
    if note is None or note.is_benchmark:
        return ""
    return (
        f'<div class="domain-note" role="note"><b>⚠ Outside what the zoo was trained on.</b> {html.escape(note.advice)}'
        f'<div class="why">How the app tells: {html.escape(note.reason)}</div></div>'
    )


def raw_upload(payload: FileData | None) -> str | bytes | None:
    """An image upload as the raw file path (or the bytes of a base64 payload), never decoded here.

    Gradio 6's ``gr.Image(type="filepath")`` opens every upload with PIL before the handler runs (and with
    an ``image_mode`` converts it, decoding every pixel): a decompression bomb would be decoded by Gradio and
    a non-image would fail inside Gradio with a message nobody can act on. ``images.load_image`` alone
    decodes, with its size caps and plain-language errors.
    """
    if payload is None:
        return None
    if payload.url and payload.url.startswith("data:"):
        encoded = payload.url.partition(",")[2]
        if len(encoded) > MAX_FILE_BYTES * 4 // 3 + 4:
            raise gr.Error(f"the image is larger than {MAX_FILE_BYTES // 2**20} MB")
        try:
            return base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError) as err:
            raise gr.Error("the uploaded data is not valid base64") from err
    if payload.path is None:
        raise gr.Error("no image was uploaded")
    return str(payload.path)


def image_input(**kwargs: Any) -> gr.Image:
    """The stock image widget whose upload reaches the handler through ``raw_upload``.

    The override is set on the instance: a ``gr.Image`` subclass would make Gradio write a .pyi stub
    next to this module at import time.
    """
    image = gr.Image(type="filepath", **kwargs)
    image.preprocess = raw_upload  # type: ignore[method-assign]
    return image


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Service errors become gr.Error with their message; anything unexpected is logged and reported briefly."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except VISITOR_ERRORS as err:
            raise gr.Error(str(err), title="Cannot do that") from err
        except Exception as err:
            log.exception("handler %s failed", fn.__name__)
            raise gr.Error(
                f"Something went wrong inside the app ({type(err).__name__}); it is logged on the server.",
                title="Internal error",
            ) from err

    return wrapper


def reporter(progress: gr.Progress) -> Callable[[float, str], None]:
    """The service's progress callback (fraction, message) onto Gradio's tracker."""
    return lambda fraction, message: progress(fraction, desc=message)


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    """Rows as a DataFrame for gr.Dataframe; missing values read "—" (no NaN), empty keeps ``columns``."""
    frame = pd.DataFrame(rows)
    if columns is not None and frame.empty:
        frame = pd.DataFrame(columns=columns)
    return frame.astype(object).where(frame.notna(), "—")


def summary_widths(columns: int) -> list[str]:
    """Column widths of a cost summary (the model's name, params, GFLOPs, then latency's median and IQR when
    timed), so that on a phone the numbers share the width with the name, which wraps, instead of being pushed
    out of the frame (``ui.app.CSS`` makes a phone's table text smaller)."""
    return ["44%", "28%", "28%"] if columns <= 3 else ["26%", "22%", "20%", "18%", "14%"]
