"""Heavy work cannot starve light work: endpoint groups, Gradio concurrency settings, a per-client heavy limit.

Every endpoint belongs to a group. Events of one group share one Gradio concurrency pool
(``concurrency_id``), so a flood of ERF requests waits in the heavy pool while ``compare`` keeps its own
workers. On top of that each client (by IP address) may have one heavy request running at a time: a second
one is answered at once with ``BusyError`` ("Busy: ... try again in N s") instead of holding a worker. The
``cost`` endpoint is light unless it measures latency; its wrapper decides per call (``heavy_if``).

Use from the UI::

    btn.click(guarded("erf", run_erf), inputs, outputs, api_name="erf", **click_kwargs("erf"))
    demo.queue(**queue_kwargs())
"""

from __future__ import annotations

import enum
import functools
import gc
import inspect
import math
import threading
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import gradio as gr

from lska_demo.benchmark.images import release_memory

R = TypeVar("R")


class Group(enum.Enum):
    """A pool of workers shared by the endpoints of one kind of work."""

    HEAVY = "heavy"
    LIGHT = "light"
    FOLLOW = "follow"  # work a settings change starts by itself: a button pressed after it never waits behind it


@dataclass(frozen=True)
class Endpoint:
    """How one endpoint is scheduled.

    Args:
        group: the Gradio pool its events run in.
        typical_s: a typical duration on a 2-core CPU, for the "try again in N s" estimate.
    """

    group: Group
    typical_s: float


ENDPOINTS: dict[str, Endpoint] = {
    "erf": Endpoint(Group.HEAVY, 30.0),
    "attention": Endpoint(Group.HEAVY, 10.0),
    "cost": Endpoint(Group.LIGHT, 15.0),  # heavy only when it measures latency: guarded(..., heavy_if=...)
    "compare": Endpoint(Group.LIGHT, 2.0),
    "diagram": Endpoint(Group.FOLLOW, 0.5),  # redrawn when the insertion point changes
    "teach": Endpoint(Group.FOLLOW, 1.0),  # rewritten when k changes
    "export": Endpoint(Group.LIGHT, 1.0),
    "transfer": Endpoint(Group.LIGHT, 5.0),
    "onnx": Endpoint(Group.HEAVY, 30.0),  # Ultralytics' exporter and a parity run in ONNX Runtime
    "zoo": Endpoint(Group.LIGHT, 1.0),
}
"""Every endpoint the UI registers; an unknown name is an error, so a new endpoint must be placed here."""

CONCURRENCY: dict[Group, int] = {Group.HEAVY: 2, Group.LIGHT: 2, Group.FOLLOW: 2}
"""Workers per pool. Two heavy workers, so that a client's second heavy request reaches its handler and is
refused at once (the per-client limit) instead of waiting behind the first; two light ones beside them, and two
for the views that follow a settings change (Gradio re-runs a change's listeners while a later change is pending,
so under load they can queue up; Compare and Export must not wait behind them)."""

MAX_QUEUE = 32
"""Events waiting in Gradio's queue, all pools together; beyond this Gradio answers "Queue is full"."""

HEAVY_PER_CLIENT = 1


class BusyError(gr.Error):
    """A request refused because its client already has heavy work running; the message says when to retry."""


def endpoint(name: str) -> Endpoint:
    """The registry entry of ``name``; a clear error for a name that is not registered.

    Args:
        name: the endpoint's api_name.
    """
    try:
        return ENDPOINTS[name]
    except KeyError:
        raise KeyError(f"endpoint {name!r} is not in lska_demo.app.fairness.ENDPOINTS; add it there") from None


def click_kwargs(name: str) -> dict[str, Any]:
    """The ``concurrency_id`` and ``concurrency_limit`` to pass to ``.click``/``.change`` for endpoint ``name``.

    Args:
        name: the endpoint's api_name.
    """
    group = endpoint(name).group
    return {"concurrency_id": group.value, "concurrency_limit": CONCURRENCY[group]}


def queue_kwargs() -> dict[str, Any]:
    """The keyword arguments for ``demo.queue``: a bounded queue, and a default pool for unregistered events."""
    return {"max_size": MAX_QUEUE, "default_concurrency_limit": CONCURRENCY[Group.LIGHT]}


class HeavyLedger:
    """Heavy requests in flight per client, with their start times; thread-safe (Gradio runs handlers in threads).

    Args:
        per_client: how many heavy requests one client may have running at once.
        clock: the time source, replaceable in tests.
    """

    def __init__(self, per_client: int = HEAVY_PER_CLIENT, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client = per_client
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[str, list[tuple[float, float]]] = {}  # client -> [(start, typical_s)]

    def acquire(self, client: str, typical_s: float) -> tuple[float, float]:
        """Register a heavy request of ``client``, or raise ``BusyError`` if it has too many running.

        Args:
            client: the client's identity (its IP address).
            typical_s: the request's typical duration, used by later "try again in N s" estimates.
        """
        now = self._clock()
        with self._lock:
            running = self._running.setdefault(client, [])
            if len(running) >= self.per_client:
                wait = min(max(start + typical - now, 1.0) for start, typical in running)
                raise BusyError(
                    f"Busy: you already have a heavy request running; try again in {math.ceil(wait)} s",
                    title="Busy",
                    print_exception=False,  # an answer, not a fault: a flood must not cost a traceback each
                )
            ticket = (now, typical_s)
            running.append(ticket)
            return ticket

    def release(self, client: str, ticket: tuple[float, float]) -> None:
        """Forget the request registered as ``ticket`` for ``client``.

        Args:
            client: the client's identity, as given to ``acquire``.
            ticket: what ``acquire`` returned.
        """
        with self._lock:
            running = self._running.get(client, [])
            running.remove(ticket)
            if not running:
                self._running.pop(client, None)

    def in_flight(self, client: str) -> int:
        """How many heavy requests ``client`` has running.

        Args:
            client: the client's identity.
        """
        with self._lock:
            return len(self._running.get(client, []))


LEDGER = HeavyLedger()


def collect_and_trim() -> None:
    """Free what only the cyclic collector frees (a matplotlib figure, a deep-copied model: both are reference
    cycles that could pile up hundreds of MB between full collections), then hand freed heap memory back to the
    system (``release_memory``)."""
    gc.collect()
    release_memory()


class IdleTrim:
    """Hands freed heap memory back to the system once no request has run for ``delay`` seconds.

    Trimming on the hot path makes the next request's image decode fault its pages back in (about 10 ms of a
    compare); trimming after the server goes quiet costs no visitor anything, and RSS still falls back after a
    burst of requests, whose threads leave freed memory in glibc's per-thread arenas.
    """

    def __init__(self, delay: float = 2.0, release: Callable[[], None] = collect_and_trim) -> None:
        self.delay, self.release = delay, release
        self._running = 0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> IdleTrim:
        with self._lock:
            self._running += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                self._timer = threading.Timer(self.delay, self.release)
                self._timer.daemon = True
                self._timer.start()


IDLE_TRIM = IdleTrim()


def client_of(request: gr.Request | None) -> str:
    """The identity the per-client limit counts by: the client's IP address ("local" when there is none).

    Args:
        request: Gradio's request object of the event.
    """
    client = getattr(request, "client", None)
    return str(getattr(client, "host", None) or "local")


def guarded(
    name: str,
    handler: Callable[..., R],
    heavy_if: Callable[..., bool] | None = None,
    ledger: HeavyLedger = LEDGER,
) -> Callable[..., R]:
    """``handler`` wrapped so that a heavy call counts against its client's limit of heavy work in flight.

    Gradio sees the same parameters as ``handler`` plus a ``gr.Request`` (added when the handler has none),
    so inputs, outputs and ``api_name`` stay as they were.

    Args:
        name: the endpoint's api_name (must be in ``ENDPOINTS``).
        handler: the event handler (a plain function, not a generator).
        heavy_if: for endpoints whose cost depends on the inputs (``cost`` with latency): called with the
            handler's arguments, True when this call is heavy. Without it the endpoint's group decides.
        ledger: where heavy requests are counted (tests pass their own).
    """
    entry = endpoint(name)
    params = list(inspect.signature(handler).parameters.values())
    if any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        raise TypeError(f"guarded({name!r}): the handler may only have positional parameters (Gradio passes inputs so)")
    hints = _type_hints(handler)
    own = next((i for i, p in enumerate(params) if hints.get(p.name) in (gr.Request, gr.Request | None)), None)
    index = own if own is not None else len(params)  # where Gradio inserts the request among the arguments

    @functools.wraps(handler)
    def wrapper(*args: Any) -> R:
        request = args[index] if index < len(args) else None
        call_args = args if own is not None else args[:index] + args[index + 1 :]
        heavy = heavy_if(*call_args) if heavy_if is not None else entry.group is Group.HEAVY
        if not heavy:
            with IDLE_TRIM:
                return handler(*call_args)
        client = client_of(request)
        ticket = ledger.acquire(client, entry.typical_s)
        try:
            with IDLE_TRIM:
                return handler(*call_args)
        finally:
            ledger.release(client, ticket)
            collect_and_trim()  # heavy work frees hundreds of MB that the collector and glibc would otherwise keep

    if own is None:
        # a default, so that it may follow a handler's defaulted parameters (``progress=gr.Progress()``)
        extra = inspect.Parameter(
            "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request
        )
        wrapper.__signature__ = inspect.Signature([*params, extra])  # type: ignore[attr-defined]
    # Gradio finds the gr.Request parameter by its resolved type hint; give it exactly that, resolved.
    wrapper.__annotations__ = {params[index].name if own is not None else "request": gr.Request}
    return wrapper


def _type_hints(handler: Callable[..., Any]) -> dict[str, Any]:
    """The handler's resolved annotations, or none when they cannot be resolved (then it has no gr.Request)."""
    try:
        return typing.get_type_hints(handler)
    except (NameError, TypeError):
        return {}
