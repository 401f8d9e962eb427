"""Can this server load Ultralytics' COCO-pretrained ``yolov8n.pt``? Ask once, before offering the choice.

It can when the file is already here (the weights folder, or where Ultralytics looks: its weights folder and
the working directory), or when Ultralytics may download it: downloads allowed (``YOLO_OFFLINE`` off; on by
default everywhere but a Hugging Face Space, see ``runtime``) and the release host reachable within a few
seconds. The visitor reads one plain sentence; paths and settings go to the operator's log only.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lska_demo.core.runtime import WEIGHTS_DIR

PRETRAINED = "yolov8n.pt"
DOWNLOAD_HOST = ("github.com", 443)  # Ultralytics downloads its release assets from GitHub
PROBE_SECONDS = 3.0
TRUTHY = frozenset({"1", "true", "yes", "on", "y", "t"})  # as Ultralytics' env_bool reads YOLO_OFFLINE

VISITOR_LOCAL = "The COCO-pretrained YOLOv8n (80 everyday object classes) is installed on this server."
VISITOR_DOWNLOAD = (
    "The COCO-pretrained YOLOv8n (80 everyday object classes) is downloaded once, on first use (about 6 MB)."
)
VISITOR_OFFLINE = (
    "Unavailable here: this server cannot download the COCO-pretrained YOLOv8n. The zoo's trained models work."
)


@dataclass(frozen=True)
class SourceAvailability:
    """``available``; ``visitor_reason``: one sentence for the page (no path, no setting); ``operator_detail``:
    what was checked and how to change it, for the log and the README."""

    available: bool
    visitor_reason: str
    operator_detail: str


def can_reach(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to host:port opens within ``timeout`` seconds, name lookup included.

    The lookup runs in a daemon thread because ``getaddrinfo`` ignores socket timeouts and can hang offline.
    """
    reached = threading.Event()

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                reached.set()
        except OSError:  # unreachable: ``reached`` stays unset, which is the answer
            return

    threading.Thread(target=connect, daemon=True, name="online-probe").start()
    return reached.wait(timeout)


def ultralytics_search_dirs() -> list[Path]:
    """Where ``YOLO('yolov8n.pt')`` finds the file without downloading: the working directory, then
    Ultralytics' weights folder (``runtime.configure_ultralytics`` puts it in the project's cache)."""
    from ultralytics.utils import SETTINGS

    return [Path.cwd(), Path(SETTINGS["weights_dir"])]


def pretrained_availability(
    name: str = PRETRAINED,
    folder: str | Path = WEIGHTS_DIR,
    search_dirs: list[Path] | None = None,
    env: Mapping[str, str] | None = None,
    reach: Callable[[str, int, float], bool] = can_reach,
) -> SourceAvailability:
    """Whether ``name`` can be loaded here, and why, in a visitor's and an operator's words.

    Args:
        name: the checkpoint Ultralytics would fetch.
        folder: the project's weights folder (``zoo.load_pretrained`` looks there first).
        search_dirs: where Ultralytics finds it without a download (default: ``ultralytics_search_dirs()``).
        env: the environment to read ``YOLO_OFFLINE`` and ``SPACE_ID`` from (default: ``os.environ``).
        reach: the network probe (host, port, timeout) -> reachable; bounded by ``PROBE_SECONDS``.
    """
    env = os.environ if env is None else env
    dirs = [Path(folder), *(ultralytics_search_dirs() if search_dirs is None else search_dirs)]
    local = next((d / name for d in dirs if (d / name).is_file()), None)
    if local is not None:
        return SourceAvailability(True, VISITOR_LOCAL, f"{name} found at {local}")
    where = f"{name} is in none of {', '.join(str(d) for d in dirs)}"
    space = f" (Hugging Face Space {env['SPACE_ID']})" if env.get("SPACE_ID") else ""
    if env.get("YOLO_OFFLINE", "").strip().lower() in TRUTHY:
        detail = (
            f"{where}, and YOLO_OFFLINE={env['YOLO_OFFLINE']}{space} forbids Ultralytics' download. Place {name} "
            f"in {folder}, or set YOLO_OFFLINE=0 on a server that can reach the internet."
        )
        return SourceAvailability(False, VISITOR_OFFLINE, detail)
    host, port = DOWNLOAD_HOST
    if reach(host, port, PROBE_SECONDS):
        return SourceAvailability(True, VISITOR_DOWNLOAD, f"{where}; {host}:{port} is reachable{space}: download")
    detail = (
        f"{where}, and {host}:{port} did not answer within {PROBE_SECONDS:.0f} s{space}. Place {name} in {folder}, "
        "or give the server internet access."
    )
    return SourceAvailability(False, VISITOR_OFFLINE, detail)
