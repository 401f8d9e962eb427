"""The guarded server against a launched tiny Gradio app (loopback, bounded in count and time).

Reproduces the abuses once measured against the server: the dev-reload stream, idle connections, a huge parameter,
upload storage and rate, a flood of heavy requests from one client, and absolute paths in what a visitor
can fetch.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from lska_demo.app import fairness
from lska_demo.app.guard import TEMP_ALIAS, Guard, GuardSettings, build_app, uvicorn_config
from lska_demo.core.runtime import PROJECT_ROOT

PORT = 7881
HEAVY_S = 1.5
SETTINGS = GuardSettings(
    max_body_bytes=64 * 1024,
    max_upload_bytes=300 * 1024,
    max_open_per_client=12,
    upload_bytes_per_window=1250 * 1024,
    upload_window_s=30.0,
    storage_cap_bytes=500 * 1024,
    timeout_keep_alive=1,
    limit_concurrency=64,
)


def _tiny_blocks(example: Path):  # -> gr.Blocks
    import gradio as gr

    def compare(text: str) -> str:
        return f"compared {len(text)}"

    def erf(n: float) -> str:
        time.sleep(HEAVY_S)
        return f"erf {n}"

    with gr.Blocks() as demo:
        text, n, out = gr.Textbox(), gr.Number(), gr.Textbox()
        gr.Image(value=str(example), type="filepath")
        gr.Button("compare").click(
            fairness.guarded("compare", compare), text, out, api_name="compare", **fairness.click_kwargs("compare")
        )
        gr.Button("erf").click(fairness.guarded("erf", erf), n, out, api_name="erf", **fairness.click_kwargs("erf"))
    demo.queue(**fairness.queue_kwargs())
    return demo


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The tiny app served by uvicorn behind the guard on 127.0.0.1:PORT, and its temp folder."""
    import uvicorn

    temp = tmp_path_factory.mktemp("gradio-temp")
    example = tmp_path_factory.mktemp("assets") / "example.png"
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 10, 10)).save(example)
    old = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(temp)
    try:
        demo = _tiny_blocks(example)
        app = build_app(demo, SETTINGS, allowed_paths=[str(example.parent)])
    finally:
        os.environ["GRADIO_TEMP_DIR"] = old or ""
    uv = uvicorn.Server(uvicorn_config(app, "127.0.0.1", PORT, SETTINGS))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "the guarded server did not start within 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{PORT}", temp
    finally:
        uv.should_exit = True
        thread.join(timeout=15)


def _call(base: str, api: str, data: list, timeout: float = 30.0) -> tuple[str, str]:
    """One event through Gradio's queue (``/gradio_api/call``): the final SSE event name and its data."""
    with httpx.Client(timeout=timeout) as c:
        reply = c.post(f"{base}/gradio_api/call/{api}", json={"data": data})
        reply.raise_for_status()
        event_id = reply.json()["event_id"]
        event, payload = "", ""
        with c.stream("GET", f"{base}/gradio_api/call/{api}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    payload = line.split(":", 1)[1].strip()
                    if event in ("complete", "error"):
                        return event, payload
    return event, payload


def test_dev_reload_monitoring_and_docs_are_refused(server: tuple[str, Path]) -> None:
    base, _ = server
    for path in ("/gradio_api/dev/reload", "/monitoring", "/monitoring/summary", "/docs", "/openapi.json"):
        assert httpx.get(base + path, timeout=5).status_code == 404, path
    assert httpx.get(base + "/", timeout=10).status_code == 200


def test_no_absolute_path_in_config_info_or_errors(server: tuple[str, Path]) -> None:
    base, temp = server
    texts = [httpx.get(base + p, timeout=10).text for p in ("/config", "/gradio_api/info")]
    texts.append(_call(base, "erf", [{"path": "/etc/passwd"}])[1])  # an error reply from Gradio
    texts.append(httpx.post(base + "/gradio_api/call/compare", content=b"x" * 100_000, timeout=10).text)
    for text in texts:
        for folder in (str(temp), str(PROJECT_ROOT), str(Path.home())):
            assert folder not in text
    assert TEMP_ALIAS in texts[0]  # the example image is referenced through the alias


def test_alias_round_trip_serves_the_example(server: tuple[str, Path]) -> None:
    base, _ = server
    config = httpx.get(base + "/config", timeout=10).text
    start = config.index(f"/gradio_api/file={TEMP_ALIAS}/")
    url = config[start : config.index('"', start)]
    reply = httpx.get(base + url, timeout=10)
    assert reply.status_code == 200 and reply.content[:4] == b"\x89PNG"


def test_oversized_body_refused_with_a_short_message(server: tuple[str, Path]) -> None:
    base, _ = server
    reply = httpx.post(base + "/gradio_api/call/compare", json={"data": ["x" * 200_000]}, timeout=10)
    assert reply.status_code == 413
    assert len(reply.text) < 200 and "too large" in reply.text


def test_idle_connections_are_bounded(server: tuple[str, Path]) -> None:
    """Idle sockets are closed by the server after timeout_keep_alive; the app stays responsive meanwhile."""
    base, _ = server
    idle = []
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        if i % 2:  # half keep a connection alive after one request, half never send a byte
            s.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.append(s)
    try:
        started = time.monotonic()
        assert _call(base, "compare", ["hello"])[0] == "complete"
        closed = 0
        for s in idle:
            s.settimeout(max(0.1, SETTINGS.timeout_keep_alive + 8 - (time.monotonic() - started)))
            try:
                while chunk := s.recv(65536):  # the reply to the request, if any, then the close
                    assert chunk
                closed += 1
            except (TimeoutError, ConnectionResetError):
                closed += 0
        assert closed == len(idle)
    finally:
        for s in idle:
            s.close()


def test_open_requests_per_client_are_bounded(server: tuple[str, Path]) -> None:
    base, _ = server
    streams = []
    with httpx.Client(timeout=10) as c:
        try:
            for _ in range(SETTINGS.max_open_per_client):
                stream = c.stream("GET", base + "/gradio_api/heartbeat/probe-session")
                stream.__enter__()
                streams.append(stream)
            assert httpx.get(base + "/config", timeout=10).status_code == 429
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
    deadline = time.monotonic() + 10
    while httpx.get(base + "/config", timeout=10).status_code == 429:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_upload_storage_capped_and_rate_limited(server: tuple[str, Path]) -> None:
    base, temp = server
    payload = os.urandom(200 * 1024)
    codes = []
    with httpx.Client(timeout=10) as c:
        for i in range(8):  # 8 x 200 KB: over the 500 KB storage cap and the 1200 KB per 30 s rate
            reply = c.post(base + "/gradio_api/upload", files={"files": (f"u{i}.bin", payload)})
            codes.append(reply.status_code)
            if reply.status_code == 200:
                assert str(temp) not in reply.text and TEMP_ALIAS in reply.text
            else:
                assert "Upload limit" in reply.text and "try again in" in reply.text
    assert codes.count(200) == 6 and codes[6:] == [429, 429]
    stored = sum(p.stat().st_size for p in temp.rglob("*") if p.is_file())
    assert stored <= SETTINGS.storage_cap_bytes
    big = httpx.post(base + "/gradio_api/upload", files={"files": ("big.bin", b"0" * 400_000)}, timeout=10)
    assert big.status_code == 413


def test_heavy_flood_gets_busy_while_light_calls_still_run(server: tuple[str, Path]) -> None:
    """One client floods /erf: its second concurrent heavy call is refused at once; /compare still answers."""
    base, _ = server
    with ThreadPoolExecutor(4) as pool:
        floods = [pool.submit(_call, base, "erf", [i]) for i in range(3)]
        time.sleep(0.3)
        light = _call(base, "compare", ["still here"])
        results = [f.result() for f in floods]
    assert light[0] == "complete" and "compared" in light[1]
    assert [event for event, _ in results].count("complete") >= 1
    busy = [data for event, data in results if event == "error"]
    assert busy and all("Busy: you already have a heavy request running; try again in" in d for d in busy)


def test_a_stop_ends_streams_waiting_on_their_client_and_refuses_new_requests(tmp_path: Path) -> None:
    """A heartbeat-like stream whose client stays connected ends at ``Guard.stop()`` with a completed reply (the
    last chunk sent), and a request arriving afterwards gets a 503: uvicorn's graceful shutdown has nothing left
    to wait for."""
    from starlette.responses import StreamingResponse

    async def alive_forever() -> AsyncIterator[bytes]:
        while True:
            yield b"data: ALIVE\n\n"
            await asyncio.sleep(3600)

    guard = Guard(StreamingResponse(alive_forever(), media_type="text/event-stream"), tmp_path)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/gradio_api/heartbeat/s",
        "headers": [],
        "client": ("1.2.3.4", 1),
    }
    scope["asgi"] = {"version": "3.0", "spec_version": "2.3"}  # what uvicorn's h11 protocol declares

    async def stop_while_streaming() -> tuple[list[dict], list[dict]]:
        requested = [{"type": "http.request", "body": b"", "more_body": False}]
        connected = asyncio.Event()  # the client never leaves

        async def receive() -> dict:
            if requested:
                return requested.pop()
            await connected.wait()
            return {"type": "http.disconnect"}

        streamed: list[dict] = []
        refused: list[dict] = []

        async def stream_send(message: dict) -> None:
            streamed.append(message)

        async def refused_send(message: dict) -> None:
            refused.append(message)

        serving = asyncio.create_task(guard(scope, receive, stream_send))
        while len(streamed) < 2:  # the start and the first event
            await asyncio.sleep(0.01)
        guard.stop()
        await asyncio.wait_for(serving, timeout=5)
        await guard(scope, receive, refused_send)
        return streamed, refused

    # its own thread: a browser test's Playwright keeps an event loop running in this one
    with ThreadPoolExecutor(1) as thread:
        streamed, refused = thread.submit(asyncio.run, stop_while_streaming()).result()
    assert streamed[0]["status"] == 200 and streamed[1]["body"] == b"data: ALIVE\n\n"
    assert streamed[-1]["type"] == "http.response.body" and not streamed[-1].get("more_body", False)
    assert refused[0]["status"] == 503 and b"stopping" in refused[1]["body"]
