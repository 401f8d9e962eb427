"""Heavy/light pools and the per-client limit of heavy work in flight (unit level; the live app is in
test_guard)."""

from __future__ import annotations

import inspect
import threading
from types import SimpleNamespace

import gradio as gr
import pytest

from lska_demo.app import fairness
from lska_demo.app.fairness import BusyError, HeavyLedger, click_kwargs, guarded


def test_every_issue_endpoint_is_registered_in_its_group() -> None:
    heavy = {n for n, e in fairness.ENDPOINTS.items() if e.group is fairness.Group.HEAVY}
    assert heavy == {"erf", "attention", "onnx"}
    assert {"compare", "diagram", "cost", "teach", "export", "transfer"} <= set(fairness.ENDPOINTS) - heavy
    assert click_kwargs("erf")["concurrency_id"] != click_kwargs("compare")["concurrency_id"]
    with pytest.raises(KeyError, match=r"not in lska_demo\.app\.fairness\.ENDPOINTS"):
        click_kwargs("nope")


def test_ledger_refuses_a_second_heavy_request_with_a_wait_estimate() -> None:
    now = [100.0]
    ledger = HeavyLedger(clock=lambda: now[0])
    ticket = ledger.acquire("1.2.3.4", typical_s=30.0)
    now[0] = 110.0
    with pytest.raises(BusyError) as info:
        ledger.acquire("1.2.3.4", typical_s=30.0)
    assert "Busy: you already have a heavy request running; try again in 20 s" in str(info.value)
    assert not info.value.print_exception  # a refusal is an answer: a flood must not cost a logged traceback each
    other = ledger.acquire("5.6.7.8", typical_s=30.0)  # another client is not affected
    ledger.release("1.2.3.4", ticket)
    ledger.release("5.6.7.8", other)
    assert ledger.in_flight("1.2.3.4") == 0


def _request(host: str) -> SimpleNamespace:
    return SimpleNamespace(client=SimpleNamespace(host=host))


def test_guarded_adds_a_request_parameter_gradio_can_fill() -> None:
    def erf(n: int, model: str) -> str:
        return f"{model}:{n}"

    wrapped = guarded("erf", erf, ledger=HeavyLedger())
    params = list(inspect.signature(wrapped).parameters)
    assert params == ["n", "model", "request"]
    assert wrapped.__annotations__ == {"request": gr.Request}
    assert wrapped(4, "m", _request("1.1.1.1")) == "m:4"


def test_guarded_heavy_call_in_flight_blocks_only_its_client() -> None:
    ledger = HeavyLedger()
    entered, leave = threading.Event(), threading.Event()

    def erf(n: int) -> int:
        entered.set()
        leave.wait(10)
        return n

    wrapped = guarded("erf", erf, ledger=ledger)
    worker = threading.Thread(target=wrapped, args=(1, _request("9.9.9.9")))
    worker.start()
    assert entered.wait(10)
    try:
        with pytest.raises(BusyError):
            wrapped(2, _request("9.9.9.9"))
        assert guarded("compare", lambda n: n * 2, ledger=ledger)(3, _request("9.9.9.9")) == 6
    finally:
        leave.set()
        worker.join(10)
    assert wrapped(3, _request("9.9.9.9")) == 3


def test_cost_is_heavy_only_when_it_measures_latency() -> None:
    ledger = HeavyLedger()
    ticket = ledger.acquire("7.7.7.7", 10.0)

    def cost(model: str, latency: bool) -> str:
        return model

    wrapped = guarded("cost", cost, heavy_if=lambda model, latency: latency, ledger=ledger)
    assert wrapped("m", False, _request("7.7.7.7")) == "m"
    with pytest.raises(BusyError):
        wrapped("m", True, _request("7.7.7.7"))
    ledger.release("7.7.7.7", ticket)


def test_handler_with_its_own_request_keeps_it() -> None:
    def attention(n: int, request: gr.Request) -> str:
        return request.client.host

    wrapped = guarded("attention", attention, ledger=HeavyLedger())
    assert list(inspect.signature(wrapped).parameters) == ["n", "request"]
    assert wrapped(1, _request("3.3.3.3")) == "3.3.3.3"


def test_freed_memory_is_handed_back_once_the_server_is_idle() -> None:
    import time

    from lska_demo.app.fairness import IdleTrim

    trims: list[float] = []
    idle = IdleTrim(delay=0.2, release=lambda: trims.append(time.monotonic()))
    with idle:
        with idle:  # two requests at once: nothing is trimmed while either runs
            pass
        time.sleep(0.3)
        assert trims == []
    with idle:  # a request right after the last one: its pending trim is called off
        pass
    time.sleep(0.05)
    assert trims == []
    time.sleep(0.3)
    assert len(trims) == 1  # one trim, after the quiet period
