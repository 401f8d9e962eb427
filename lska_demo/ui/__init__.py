"""The Gradio app: ``app.py`` assembles the header, the shared controls and one module per tab.

Every tab module has ``build(service, controls)``, which lays the tab out and wires its events to thin
handlers around ``service.DemoService``; what tabs share lives in ``common.py``. The UI imports the service
(and the vocabulary of its choices), never the engine below it. Nothing imports this package but ``app.py``.
"""

from __future__ import annotations

import os

from lska_demo.core.runtime import CACHE_DIR

# Example files are copied into this cache at start; keep it with the project's other caches, not in the cwd.
# Set before Gradio is imported: it reads the variable at import.
os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(CACHE_DIR / "gradio" / "examples"))

from lska_demo.ui.app import CSS, THEME, build_ui

__all__ = ["CSS", "THEME", "build_ui"]
