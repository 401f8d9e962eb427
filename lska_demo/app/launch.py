"""Start ``python app.py`` in its own process on a free loopback port and wait until it serves the page.

Shared by the benchmark (cold start, peak memory) and the tests that talk to the running app.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

from lska_demo.core.runtime import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    log: IO[bytes] | int = subprocess.DEVNULL,
    timeout: float = 120.0,
    port: int | None = None,
) -> tuple[subprocess.Popen, str, float]:
    """The server process, its URL and the seconds it took to answer 200; the process is stopped on failure.

    Args:
        args: ``app.py``'s arguments besides ``--port``.
        env: environment variables on top of this process's.
        log: where the server's output goes.
        timeout: seconds to wait for the page.
        port: the loopback port, or None for a free one.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), *(args or [])],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=log,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with code {proc.returncode} before serving")
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    if reply.status == 200:
                        return proc, url, time.perf_counter() - started
            except OSError:
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"app.py did not serve its page within {timeout:.0f} s") from None
                time.sleep(0.1)
    except BaseException:
        stop_app(proc)
        raise


def stop_app(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM (the app stops as on Ctrl-C, removing its temporary files), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peak_rss_gb(pid: int) -> float:
    """The process's peak resident memory (Linux /proc VmHWM), in GiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM in /proc status")
