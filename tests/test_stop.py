"""Stopping the server is an ordinary exit: Ctrl-C or SIGTERM right after the page is served (while the
background warm-up still runs torch) ends with code 0, no traceback and no C++ abort in the log."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from lska_demo.app.launch import start_app


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_right_after_start_is_clean(tmp_path: Path, stop: signal.Signals) -> None:
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server, _, _ = start_app(log=log)
        server.send_signal(stop)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    log_text = log_path.read_text(errors="replace")
    assert code == 0, log_text[-2000:]
    assert "Traceback" not in log_text and "terminate called" not in log_text, log_text[-2000:]
