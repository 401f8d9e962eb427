"""Offline-safe runtime set-up, run before Ultralytics, Gradio or Matplotlib are imported.

Nothing here reaches the network: Ultralytics' DNS probe, settings sync and font download, Gradio's
analytics and the Hugging Face hub are all turned off, and their files live in the project's cache
folder, never in the user's home. Every setting is a default: an environment variable set by the
user wins, so an online user can still fetch ``yolov8n.pt`` (set ``YOLO_OFFLINE=0``; the default on a
Hugging Face Space, which sets ``SPACE_ID``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("LSKA_DEMO_CACHE", PROJECT_ROOT / ".cache")).resolve()
WEIGHTS_DIR = Path(os.environ.get("LSKA_DEMO_WEIGHTS", PROJECT_ROOT / "weights")).resolve()
ASSETS_DIR = PROJECT_ROOT / "assets"

ENV_DEFAULTS: dict[str, str] = {
    # skip Ultralytics' DNS probe and downloads; a Hugging Face Space (SPACE_ID set) is online: allow them there
    "YOLO_OFFLINE": "0" if os.environ.get("SPACE_ID") else "1",
    "YOLO_CONFIG_DIR": str(CACHE_DIR / "ultralytics"),
    "YOLO_VERBOSE": "False",
    "YOLO_AUTOINSTALL": "False",  # Ultralytics would pip-install missing extras at run time
    "MPLCONFIGDIR": str(CACHE_DIR / "matplotlib"),
    "MPLBACKEND": "Agg",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_TEMP_DIR": str(CACHE_DIR / "gradio"),
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def configure_environment() -> None:
    """Set offline defaults; idempotent and cheap (no heavy imports)."""
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    for key in ("YOLO_CONFIG_DIR", "MPLCONFIGDIR", "GRADIO_TEMP_DIR"):
        Path(os.environ[key]).mkdir(parents=True, exist_ok=True)


def configure_ultralytics() -> None:
    """Ship a font where Ultralytics looks (it downloads Arial otherwise) and turn settings sync off."""
    import matplotlib
    from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = Path(USER_CONFIG_DIR) / name
        if not target.exists():
            shutil.copyfile(font, target)
    wanted = {
        "sync": False,
        "datasets_dir": str(CACHE_DIR / "datasets"),
        "runs_dir": str(CACHE_DIR / "runs"),
        "weights_dir": str(CACHE_DIR / "ultralytics-weights"),
    }
    if any(SETTINGS.get(k) != v for k, v in wanted.items()):
        SETTINGS.update(wanted)
