"""The public server: the Gradio Blocks mounted in a FastAPI app behind one ASGI guard, served by uvicorn.

What the guard does to every HTTP request, in order:

- **Refuses routes a production app does not need** (404): Gradio's dev-reload stream (a free long-lived
  connection for anyone), ``/monitoring`` (per-endpoint statistics), run history, the "vibe" editor, the
  URL proxy, custom components, recording, and FastAPI's ``/docs``, ``/redoc`` and outer ``/openapi.json``.
  What stays: the page, ``/config`` (the page needs it), the queue, uploads, files, and ``/gradio_api/info``
  (``gradio_client`` needs it).
- **Bounds open requests per client** (429): at most ``max_open_per_client`` requests in flight from one IP
  address, long-lived streams included. Idle keep-alive connections are closed by uvicorn after
  ``timeout_keep_alive`` seconds and all connections together are capped by uvicorn's ``limit_concurrency``
  (503 beyond it).
- **Caps request bodies** (413): ``max_body_bytes`` for everything but uploads; uploads must declare their
  length and may be at most ``max_upload_bytes``.
- **Limits the upload rate per client** (429): ``upload_bytes_per_window`` in any ``upload_window_s``.
- **Caps upload storage**: after each upload, files in Gradio's temp folder that appeared after start are
  removed, oldest first, until the folder holds at most ``storage_cap_bytes``.
- **Hides server paths**: in every text reply (JSON, HTML, event streams: ``/config``, upload replies, queue
  messages, errors) the temp folder's absolute path is replaced by the alias ``gradio-tmp`` (translated back
  on the way in, so file references keep working), and the project folder and the home folder by ``<app>``
  and ``~``. So ``/config`` exposes the page layout, component values and the alias, never an absolute path.
- **Ends long-lived replies when the server stops**: a browser tab's heartbeat, a ``gradio_client``'s event
  stream and any other reply waiting on its client are told the client left (as when a tab closes), so they
  end at once and their replies are completed; requests arriving while the server stops are refused (503).
  Without this uvicorn's graceful shutdown waits for every open tab and API client, i.e. for ever;
  ``graceful_shutdown_s`` bounds whatever is left.

``serve(blocks, host, port)`` is what ``app.py`` calls instead of ``blocks.launch``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lska_demo.benchmark.images import MAX_FILE_BYTES
from lska_demo.core.runtime import PROJECT_ROOT

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TEMP_ALIAS = "gradio-tmp"
UPLOAD_PATH = "/gradio_api/upload"
FILE_PREFIX = "/gradio_api/file="

BLOCKED_PREFIXES: tuple[str, ...] = (
    "/gradio_api/dev/",
    "/monitoring",
    "/gradio_api/runs",
    "/gradio_api/run-history",
    "/gradio_api/vibe",
    "/gradio_api/undo-vibe",
    "/gradio_api/proxy=",
    "/gradio_api/custom_component",
    "/gradio_api/process_recording",
    "/gradio_api/stream/",
    "/docs",
    "/redoc",
    "/openapi.json",
)
"""Path prefixes refused with 404: development, statistics and features this app does not use."""

TEXT_TYPES = ("application/json", "text/")


@dataclass(frozen=True)
class GuardSettings:
    """Limits of the public server; the defaults suit a 2-core Space with a few dozen visitors.

    Args:
        max_body_bytes: largest request body except uploads (parameters are small; a 16 MB string is not).
        max_upload_bytes: largest upload request (one image file plus multipart framing).
        max_open_per_client: requests in flight from one IP address, long-lived streams included.
        upload_bytes_per_window: bytes one IP address may upload per window.
        upload_window_s: the window of the upload rate limit, in seconds.
        storage_cap_bytes: total size of the files that uploads and outputs may keep in the temp folder.
        timeout_keep_alive: seconds uvicorn keeps an idle connection open.
        limit_concurrency: connections and requests uvicorn serves at once before answering 503.
        graceful_shutdown_s: seconds uvicorn waits at a stop for replies still open after the guard ended the
            long-lived ones, before cancelling them; keeps a stop within a few seconds whatever is connected.
        blocked_prefixes: path prefixes refused with 404.
    """

    max_body_bytes: int = 2 * 2**20
    max_upload_bytes: int = MAX_FILE_BYTES + 2**20
    max_open_per_client: int = 16
    upload_bytes_per_window: int = 200 * 2**20
    upload_window_s: float = 60.0
    storage_cap_bytes: int = 1024 * 2**20
    timeout_keep_alive: int = 5
    limit_concurrency: int = 256
    graceful_shutdown_s: float = 2.0
    blocked_prefixes: tuple[str, ...] = BLOCKED_PREFIXES


@dataclass
class _Clients:
    """Per-IP bookkeeping: open requests and recent uploads (time, bytes)."""

    open: collections.Counter[str] = field(default_factory=collections.Counter)
    uploads: dict[str, collections.deque[tuple[float, int]]] = field(default_factory=dict)


class PathScrubber:
    """Replaces absolute server paths in text replies, and translates the temp folder's alias back in requests.

    Args:
        temp_dir: Gradio's temp folder (aliased reversibly).
        hidden: other folders shown as a placeholder (irreversibly), e.g. {project root: "<app>"}.
    """

    def __init__(self, temp_dir: Path, hidden: dict[Path, str]) -> None:
        real = str(temp_dir.resolve()).rstrip("/")
        self._temp_out = (real.encode(), TEMP_ALIAS.encode())
        self._temp_in = [(b'"' + TEMP_ALIAS.encode() + b"/", b'"' + real.encode() + b"/")]
        self._path_in = (FILE_PREFIX + TEMP_ALIAS + "/", FILE_PREFIX + real + "/")
        self._hidden = sorted(((str(p).rstrip("/").encode(), s.encode()) for p, s in hidden.items()), reverse=True)

    def outbound(self, body: bytes) -> bytes:
        """A reply body with the temp folder aliased and the other folders hidden."""
        body = body.replace(*self._temp_out)
        for path, placeholder in self._hidden:  # longest first, so a folder inside another wins
            if len(path) > 1:
                body = body.replace(path, placeholder)
        return body

    def inbound_body(self, body: bytes) -> bytes:
        """A request body with aliased file references turned back into real paths."""
        for alias, real in self._temp_in:
            body = body.replace(alias, real)
        return body

    def inbound_path(self, path: str) -> str:
        """A ``/gradio_api/file=gradio-tmp/...`` path turned back into the real file route."""
        alias, real = self._path_in
        return real + path[len(alias) :] if path.startswith(alias) else path


class Guard:
    """The ASGI middleware described in the module docstring.

    Args:
        app: the application behind the guard.
        temp_dir: Gradio's temp folder (uploads, outputs, example copies).
        settings: the limits.
        clock: the time source, replaceable in tests.
    """

    def __init__(
        self,
        app: ASGIApp,
        temp_dir: Path,
        settings: GuardSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.settings = settings or GuardSettings()
        self.temp_dir = temp_dir
        self.scrubber = PathScrubber(temp_dir, {PROJECT_ROOT: "<app>", Path.home(): "~"})
        self.protected = frozenset(_files(temp_dir))  # example copies made before serving are never pruned
        self._clock = clock
        self._clients = _Clients()
        self._prune_lock = threading.Lock()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """The server is stopping: end the replies that wait on their client and refuse new requests.

        Called in the event loop when uvicorn's shutdown starts (see ``serve``).
        """
        self._stopping.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self._stopping.is_set():
            await _reply(send, 503, "The server is stopping; try again in a moment.")
            return
        if path.startswith(self.settings.blocked_prefixes):
            await _reply(send, 404, "Not found")
            return
        client = (scope.get("client") or ("local", 0))[0]
        if self._clients.open[client] >= self.settings.max_open_per_client:
            await _reply(send, 429, "Too many open requests from your address; wait for some to finish.")
            return
        self._clients.open[client] += 1
        try:
            await self._handle(scope, receive, send, client, path)
        finally:
            self._clients.open[client] -= 1
            if self._clients.open[client] <= 0:
                del self._clients.open[client]

    async def _handle(self, scope: Scope, receive: Receive, send: Send, client: str, path: str) -> None:
        declared = _content_length(scope)
        if path == UPLOAD_PATH and scope["method"] == "POST":
            refusal = self._check_upload(client, declared)
            if refusal:
                await _reply(send, *refusal)
                return
            await self.app(scope, _capped(receive, declared or 0), self._scrubbing(send))
            await asyncio.to_thread(self.prune)
            return
        if declared is not None and declared > self.settings.max_body_bytes:
            await _reply(send, 413, f"The request is too large; the limit is {_mb(self.settings.max_body_bytes)}.")
            return
        body = await _read_body(receive, self.settings.max_body_bytes)
        if body is None:
            await _reply(send, 413, f"The request is too large; the limit is {_mb(self.settings.max_body_bytes)}.")
            return
        scope = dict(scope)
        scope["path"] = self.scrubber.inbound_path(path)
        scope["raw_path"] = scope["path"].encode()
        # the body is read: from here on ``receive`` only tells the app whether the client left
        progress = _Progress()
        receive = _replay(self.scrubber.inbound_body(body), _until(self._stopping, receive))
        await self.app(scope, receive, self._scrubbing(progress.tracking(send)))
        if self._stopping.is_set() and progress.started and not progress.complete:
            # a stream ended by the stop: finish its reply, so the client sees an ended stream and not a broken one
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _check_upload(self, client: str, declared: int | None) -> tuple[int, str] | None:
        """Why an upload of ``declared`` bytes from ``client`` is refused, or None; charges the rate limit."""
        s = self.settings
        if declared is None:
            return 411, "Uploads must declare their length."
        if declared > s.max_upload_bytes:
            return 413, f"The upload is too large; the limit is {_mb(s.max_upload_bytes)}."
        now = self._clock()
        recent = self._clients.uploads.setdefault(client, collections.deque())
        while recent and recent[0][0] <= now - s.upload_window_s:
            recent.popleft()
        if sum(n for _, n in recent) + declared > s.upload_bytes_per_window:
            wait = max(1, round(recent[0][0] + s.upload_window_s - now)) if recent else 1
            per = f"{_mb(s.upload_bytes_per_window)} per {s.upload_window_s:g} s"
            return 429, f"Upload limit reached ({per} per visitor); try again in {wait} s."
        recent.append((now, declared))
        return None

    def prune(self) -> list[Path]:
        """Remove files that appeared in the temp folder after start, oldest first, until the folder holds
        at most ``storage_cap_bytes``; returns the removed files."""
        with self._prune_lock:
            files = [(p, p.stat()) for p in _files(self.temp_dir)]
            total = sum(st.st_size for _, st in files)
            removed = []
            for p, st in sorted(files, key=lambda item: item[1].st_mtime):
                if total <= self.settings.storage_cap_bytes:
                    break
                if p in self.protected:
                    continue
                p.unlink(missing_ok=True)
                total -= st.st_size
                removed.append(p)
            return removed

    def _scrubbing(self, send: Send) -> Send:
        """``send`` with absolute paths taken out of text replies (whole bodies, or chunk by chunk for streams)."""
        state: dict[str, Any] = {"text": False, "start": None, "buffer": []}

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                ctype = headers.get(b"content-type", b"").decode("latin-1")
                state["text"] = ctype.startswith(TEXT_TYPES) and b"content-encoding" not in headers
                if state["text"] and b"content-length" in headers:
                    state["start"] = message  # buffered: the length changes
                    return
                await send(message)
                return
            if message["type"] != "http.response.body" or not state["text"]:
                await send(message)
                return
            if state["start"] is None:  # a stream: each event is one chunk in Gradio
                await send({**message, "body": self.scrubber.outbound(message.get("body", b""))})
                return
            state["buffer"].append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = self.scrubber.outbound(b"".join(state["buffer"]))
            start = state["start"]
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return wrapped


@dataclass
class _Progress:
    """How far one reply has gone: whether its start and its last body chunk were sent."""

    started: bool = False
    complete: bool = False

    def tracking(self, send: Send) -> Send:
        """``send`` that records the reply's progress."""

        async def tracked(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.start":
                self.started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                self.complete = True

        return tracked


def _until(stopping: asyncio.Event, receive: Receive) -> Receive:
    """``receive`` that answers a disconnect once ``stopping`` is set, even while waiting for the client.

    Starlette's streaming replies (Gradio's heartbeat and event stream among them) end when ``receive``
    reports a disconnect, so this ends them at a stop as if each client had left.
    """
    disconnect: Message = {"type": "http.disconnect"}

    async def wrapped() -> Message:
        if stopping.is_set():
            return disconnect
        message = asyncio.ensure_future(receive())
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({message, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not message.done():
                message.cancel()  # uvicorn's disconnect is sticky: a later receive() reports it again
        return message.result() if message.done() and not message.cancelled() else disconnect

    return wrapped


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def _mb(n: int) -> str:
    return f"{n / 2**20:g} MB"


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` once, then the connection's own messages (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _capped(receive: Receive, declared: int) -> Receive:
    """``receive`` that ends the body (as a disconnect) once more bytes arrive than were declared."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > declared:
                return {"type": "http.disconnect"}
        return message

    return wrapped


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_app(blocks: Any, settings: GuardSettings | None = None, **mount_kwargs: Any) -> Guard:
    """The guarded ASGI app: ``blocks`` mounted at ``/`` in a FastAPI app without docs routes.

    Args:
        blocks: the ``gr.Blocks``, already ``.queue()``-d (its queue settings are kept).
        settings: the guard's limits.
        **mount_kwargs: passed to ``gr.mount_gradio_app`` (``allowed_paths``, ``blocked_paths``, ``css``,
            ``theme``, ``max_file_size``, ``show_error``, ``footer_links``).
    """
    import gradio as gr
    from fastapi import FastAPI

    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    mount_kwargs.setdefault("enable_monitoring", False)
    mount_kwargs.setdefault("show_error", False)
    api = gr.mount_gradio_app(api, blocks, path="", **mount_kwargs)
    # Gradio checks that a file named in a request was uploaded (not any path on the server) only once the
    # Blocks "has launched", which ``launch()`` sets and ``mount_gradio_app`` does not: without this a visitor's
    # {"path": "/any/file", "meta": {"_type": "gradio.FileData"}} would reach the handlers.
    blocks.has_launched = True
    return Guard(api, Path(blocks.GRADIO_CACHE), settings)


def _idle_bounded_protocol() -> type:
    """uvicorn's h11 protocol with the keep-alive timer also running before the first request.

    uvicorn starts its idle timer only after a response, so a socket that connects and never sends a byte
    would stay open for ever (and count against ``limit_concurrency``); this one is closed after
    ``timeout_keep_alive`` seconds like any idle keep-alive connection.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class IdleBoundedH11Protocol(H11Protocol):
        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    return IdleBoundedH11Protocol


def forwarded_allow_ips() -> str:
    """Whose X-Forwarded-For to trust, so that per-client limits count visitors and not the proxy.

    ``$FORWARDED_ALLOW_IPS`` if set; on a Hugging Face Space (``$SPACE_ID`` set) every peer, since the Space's
    own proxy is the only way in; elsewhere only a proxy on the same machine.
    """
    return os.environ.get("FORWARDED_ALLOW_IPS") or ("*" if os.environ.get("SPACE_ID") else "127.0.0.1")


def uvicorn_config(app: Guard, host: str, port: int, settings: GuardSettings | None = None) -> Any:
    """uvicorn's configuration for the guarded app: bounded connections, idle time and stop time, no access log.

    Args:
        app: what ``build_app`` returned.
        host: interface to listen on.
        port: TCP port.
        settings: the limits (uvicorn's share: ``timeout_keep_alive``, ``limit_concurrency``,
            ``graceful_shutdown_s``).
    """
    import uvicorn

    s = settings or app.settings
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_idle_bounded_protocol(),
        timeout_keep_alive=s.timeout_keep_alive,
        limit_concurrency=s.limit_concurrency,
        timeout_graceful_shutdown=s.graceful_shutdown_s,
        proxy_headers=True,  # a Space's proxy puts the visitor's address in X-Forwarded-For
        forwarded_allow_ips=forwarded_allow_ips(),
        access_log=False,
        log_level="warning",
        server_header=False,
    )


def serve(blocks: Any, host: str, port: int, settings: GuardSettings | None = None, **mount_kwargs: Any) -> None:
    """Serve ``blocks`` behind the guard until Ctrl-C or SIGTERM; what ``app.py`` calls instead of ``launch``.

    Args:
        blocks: the ``gr.Blocks``, already ``.queue()``-d.
        host: interface to listen on.
        port: TCP port.
        settings: the guard's limits.
        **mount_kwargs: passed to ``gr.mount_gradio_app`` (see ``build_app``).
    """
    app = build_app(blocks, settings, **mount_kwargs)
    _quiet_stop_server(uvicorn_config(app, host, port, settings), app).run()


def _quiet_stop_server(config: Any, guard: Guard) -> Any:
    """uvicorn's server, except that

    - a Ctrl-C or SIGTERM ends ``run()`` after the graceful shutdown instead of being raised again inside the
      event loop (which cancelled the lifespan task mid-way and logged a traceback for an ordinary stop);
    - its shutdown first tells ``guard`` to end the long-lived replies, which uvicorn would otherwise wait for.
    """
    import uvicorn

    class QuietStopServer(uvicorn.Server):
        async def shutdown(self, sockets: list[Any] | None = None) -> None:
            guard.stop()
            await super().shutdown(sockets)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return QuietStopServer(config)
