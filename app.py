"""LSKA Lens web app: ``python app.py [--host 127.0.0.1] [--port 7860] [--weights my.pt]``.

Thin on purpose: the UI lives in ``lska_demo.ui`` and everything behind it in ``lska_demo.app.service``.
Models are built or loaded on first use, so the page is served within seconds.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NoReturn

import lska_demo  # noqa: F401  (offline runtime before Gradio, Ultralytics or torch start)
from lska_demo.app.guard import GuardSettings
from lska_demo.benchmark.images import MAX_FILE_BYTES
from lska_demo.core.runtime import ASSETS_DIR, CACHE_DIR, WEIGHTS_DIR

CONCURRENCY = 2
STOP_WAIT_S = 1.0
"""Seconds a stop waits, once the server has closed, for the warm-up and running requests to finish."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Hugging Face Spaces run `python app.py` with GRADIO_SERVER_NAME=0.0.0.0; locally the default stays loopback.
    p.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="interface to listen on (default 127.0.0.1; 0.0.0.0 exposes the app to the network)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("LSKA_DEMO_PORT") or os.environ.get("GRADIO_SERVER_PORT") or 7860),
        help="default 7860, or $LSKA_DEMO_PORT",
    )
    p.add_argument("--weights", type=Path, default=None, help="an Ultralytics YOLOv8 checkpoint of yours (trusted)")
    p.add_argument("--max-cache", type=int, default=6, help="models kept in memory (at least 2)")
    p.add_argument(
        "--upload-storage-mb",
        type=float,
        default=GuardSettings.storage_cap_bytes / 2**20,
        help="uploads and outputs kept on disk at most (oldest removed first; default %(default)g)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=max(1, (os.cpu_count() or 1) // CONCURRENCY),
        help="torch threads per request; more threads than free cores makes CPU inference many times slower",
    )
    args = p.parse_args(argv)
    if args.weights is not None and not args.weights.is_file():
        p.error(f"--weights {args.weights}: no such file")
    if args.upload_storage_mb <= 0:
        p.error("--upload-storage-mb must be positive")
    if args.max_cache < 2:
        p.error("--max-cache must be at least 2 (a baseline and a variant)")
    return args


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (a service manager, a test's terminate()) stops like Ctrl-C: the server closes and
    ``main`` removes the temporary folder, instead of the process dying with uploads left behind."""
    raise KeyboardInterrupt


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def private_temp_dir() -> Path:
    """A temporary folder of this server only, inside GRADIO_TEMP_DIR (set by lska_demo.core.runtime), for uploads,
    outputs and example copies; Gradio must not be imported yet, it reads the variable at import.

    One folder per process, so that stopping one server removes exactly its files and never another's;
    folders of servers that were killed outright are removed at the next start.
    """
    base = Path(os.environ["GRADIO_TEMP_DIR"])
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.glob("app-*-*"):
        pid = stale.name.split("-")[1]
        if stale.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"app-{os.getpid()}-", dir=base))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder


def _still_working(warming: threading.Thread, wait_s: float) -> list[threading.Thread]:
    """The threads that will not let the interpreter exit cleanly within ``wait_s`` seconds: the warm-up (torch
    in a daemon thread aborts the process at exit) and request handlers still computing (Gradio runs them in
    non-daemon worker threads, which the interpreter waits for however long a computation takes)."""
    deadline = time.monotonic() + wait_s
    waiting = [t for t in threading.enumerate() if t is warming or not (t.daemon or t is threading.current_thread())]
    for thread in waiting:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in waiting if t.is_alive()]


def _exit_stopped(busy: list[threading.Thread]) -> NoReturn:
    """End the process with code 0 after a stop, running the exit hooks but not the interpreter's teardown.

    That teardown would wait for ``busy`` threads however long they compute (torch cannot be interrupted, and
    their results have nobody left to go to), abort the process if one runs torch in a daemon thread (the
    warm-up), and takes seconds of its own with torch, Gradio and Ultralytics loaded (2-3 s measured on a 2-core
    machine) with nothing to save. The exit hooks (logging, weakref finalizers) are what a normal exit runs first.
    """
    if busy:
        print(f"Stopped without waiting for: {', '.join(t.name for t in busy)} (still computing).", file=sys.stderr)
    atexit._run_exitfuncs()  # CPython's own exit hooks, the part of a normal exit worth keeping
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, then end the process (code 0) within seconds whatever is connected."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    temp = private_temp_dir()
    import torch

    torch.set_num_threads(args.threads)
    from lska_demo.app.fairness import queue_kwargs
    from lska_demo.app.guard import serve
    from lska_demo.app.service import ServiceOptions, warm_up
    from lska_demo.ui import CSS, THEME, build_ui

    options = ServiceOptions(
        weights_dir=WEIGHTS_DIR,
        checkpoint=args.weights.resolve() if args.weights else None,
        max_cache=args.max_cache,
    )
    demo = build_ui(options)
    warming = threading.Thread(target=warm_up, name="warm-up", daemon=True)  # off the start-up path
    warming.start()
    demo.queue(**queue_kwargs())  # heavy and light pools, a bounded queue (lska_demo.app.fairness)
    busy: list[threading.Thread] | None = None  # None until the server stopped normally
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C, or SIGTERM re-raised by uvicorn: a normal stop
            serve(  # behind lska_demo.app.guard: refused dev routes, capped bodies and uploads, per-client limits
                demo,
                args.host,
                args.port,
                GuardSettings(storage_cap_bytes=int(args.upload_storage_mb * 2**20)),
                allowed_paths=[str(ASSETS_DIR)],  # example images only; uploads and outputs live in the temp folder
                blocked_paths=[str(WEIGHTS_DIR), str(CACHE_DIR / "zoo"), str(CACHE_DIR / "ultralytics")],
                show_error=False,  # gr.Error messages are always shown; other exceptions stay in the server log
                css=CSS,
                theme=THEME,
                footer_links=[],
                max_file_size=MAX_FILE_BYTES,  # refused at upload, before anything reads the file
            )
        busy = _still_working(warming, STOP_WAIT_S)  # the warm-up and requests get a moment to finish
    finally:
        if busy is None:  # serve failed: its traceback and exit code, once the warm-up's torch work is done
            warming.join()
        shutil.rmtree(temp, ignore_errors=True)
    _exit_stopped(busy)


if __name__ == "__main__":
    main()
