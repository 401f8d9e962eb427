"""The shape of the package: imports run one way (ui -> service -> sources, engine; cli -> service or engine),
and the front rooms stay small. Every import counts, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lska_demo.runtime import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "lska_demo"
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every lska_demo module ``path`` imports, at the top or inside a function; ``from lska_demo import
    plots`` counts as ``lska_demo.plots``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if node.module == "lska_demo"}
    return {name for name in found if name == "lska_demo" or name.startswith("lska_demo.")}


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_scan_sees_imports_inside_functions() -> None:
    assert "lska_demo.analysis.erf" in IMPORTS["lska_demo.service"]  # imported lazily inside DemoService.erf
    assert "lska_demo.plots" in IMPORTS["lska_demo.service"]  # as ``from lska_demo import plots``


@pytest.mark.parametrize("module", [m for m in MODULES if _within(m, "lska_demo.kernels", "lska_demo.yolo")])
def test_the_model_layer_imports_no_front_end(module: str) -> None:
    above = {m for m in IMPORTS[module] if _within(m, "lska_demo.service", "lska_demo.ui", "lska_demo.cli")}
    assert not above, f"{module} imports {sorted(above)}"


@pytest.mark.parametrize("module", [m for m in MODULES if _within(m, "lska_demo.analysis")])
def test_the_analysis_engine_imports_nothing_above_it(module: str) -> None:
    allowed = ("lska_demo.analysis", "lska_demo.kernels", "lska_demo.yolo", "lska_demo.images", "lska_demo.vocabulary")
    above = {m for m in IMPORTS[module] if not _within(m, *allowed)}
    assert not above, f"{module} imports {sorted(above)}"


@pytest.mark.parametrize("module", [m for m in MODULES if _within(m, "lska_demo.ui")])
def test_the_ui_reaches_the_engine_only_through_the_service(module: str) -> None:
    # fairness: how events are scheduled (Gradio pools, per-client heavy limit), a UI concern of its own
    allowed = ("lska_demo.ui", "lska_demo.service", "lska_demo.vocabulary", "lska_demo.runtime", "lska_demo.fairness")
    below = {m for m in IMPORTS[module] if not _within(m, *allowed)}
    assert not below, f"{module} imports {sorted(below)}"


@pytest.mark.parametrize("module", [m for m in MODULES if not _within(m, "lska_demo.ui", "lska_demo.cli")])
def test_nothing_below_the_front_ends_imports_them(module: str) -> None:
    front = {m for m in IMPORTS[module] if _within(m, "lska_demo.ui", "lska_demo.cli")}
    if module == "lska_demo.__main__":  # ``python -m lska_demo`` is the CLI's entry point
        front -= {"lska_demo.cli.main"}
    assert not front, f"{module} imports {sorted(front)}"


@pytest.mark.parametrize("module", ["lska_demo.sources", "lska_demo.inputs", "lska_demo.vocabulary"])
def test_the_services_parts_do_not_import_the_service(module: str) -> None:
    assert not {m for m in IMPORTS[module] if _within(m, "lska_demo.service")}


def _front_room_files() -> list[Path]:
    return [*sorted((PACKAGE / "ui").glob("*.py")), *(PACKAGE / f for f in ("service.py", "sources.py", "inputs.py"))]


@pytest.mark.parametrize("path", _front_room_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_in_the_front_rooms_is_longer_than_80_lines(path: Path) -> None:
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long
