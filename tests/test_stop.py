"""Stopping the server is an ordinary exit within seconds, whatever is connected: Ctrl-C or SIGTERM ends with
code 0 within ``STOP_LIMIT_S``, no traceback and no C++ abort in the log, right after the page is served (while
the background warm-up still runs torch), with a browser tab's heartbeat stream open, and with an API client
connected while its request runs. Gradio keeps one streaming connection open per tab and per API client, which
uvicorn's graceful shutdown used to wait for: a stop then never finished."""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.utils import Status

from lska_demo.app.launch import start_app

STOP_LIMIT_S = 5.0
HANG_S = 30.0
"""How long a test waits for a stop that overran ``STOP_LIMIT_S`` before killing the server."""
RUNNING = {Status.IN_QUEUE, Status.PROCESSING, Status.PROGRESS, Status.ITERATING}
LOG_NOISE = ("Traceback", "terminate called", "Exception in ASGI application", "graceful shutdown exceeded")


@contextmanager
def _nothing(url: str) -> Iterator[Callable[[], None]]:
    yield lambda: None


@contextmanager
def _browser_tab(url: str) -> Iterator[Callable[[], None]]:
    """A tab's heartbeat stream (the page's EventSource), open and answered; after the stop its reply must have
    ended properly (a chunked stream cut off half-way raises IncompleteRead)."""
    host, port = url.split("//", 1)[1].strip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=HANG_S)
    connection.request("GET", f"/gradio_api/heartbeat/{uuid.uuid4().hex[:11]}")
    reply = connection.getresponse()
    assert reply.status == 200 and reply.readline().startswith(b"data: ALIVE")

    def ended_cleanly() -> None:
        reply.read()

    try:
        yield ended_cleanly
    finally:
        connection.close()


@contextmanager
def _api_client(url: str) -> Iterator[Callable[[], None]]:
    """A ``gradio_client.Client`` (its heartbeat stream open) with an ERF request running or queued; after the
    stop the request has its result, or the client reports it cancelled (its event stream ended), never a broken
    connection or a wait for ever."""
    client = Client(url, verbose=False)
    job = client.submit(None, 23, "sppf", "gate", "zoo", 1, "insertion point", api_name="/erf")
    deadline = time.monotonic() + HANG_S
    while job.status().code not in RUNNING and not job.done():  # the server has it: its event stream is open
        assert time.monotonic() < deadline, f"the request never ran: {job.status()}"
        time.sleep(0.05)

    def answered() -> None:
        try:
            job.result(timeout=HANG_S)
        except concurrent.futures.TimeoutError:
            raise AssertionError("the request running at the stop was never answered") from None
        except concurrent.futures.CancelledError:
            return  # cut off by the stop: the server ended its event stream

    try:
        yield answered
    finally:
        client.close()


CONNECTED: dict[str, Callable[[str], AbstractContextManager[Callable[[], None]]]] = {
    "nothing": _nothing,
    "browser-tab": _browser_tab,
    "api-client": _api_client,
}


@pytest.mark.parametrize("connected", list(CONNECTED))
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_is_quick_and_clean_whatever_is_connected(tmp_path: Path, stop: signal.Signals, connected: str) -> None:
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server, url, _ = start_app(log=log)
        try:
            with CONNECTED[connected](url) as check_client:
                started = time.monotonic()
                server.send_signal(stop)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.wait(timeout=HANG_S)
                seconds = time.monotonic() - started
                print(f"stop with {connected} connected, {stop.name}: {seconds:.2f} s, code {server.returncode}")
                assert server.returncode is not None, f"still running {HANG_S:g} s after {stop.name} with {connected}"
                check_client()
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    log_text = log_path.read_text(errors="replace")
    assert server.returncode == 0, log_text[-2000:]
    assert seconds <= STOP_LIMIT_S, f"the stop took {seconds:.1f} s with {connected} connected"
    assert not any(noise in log_text for noise in LOG_NOISE), log_text[-2000:]
