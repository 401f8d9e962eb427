"""The shape of the package: layered subpackages whose imports run one way, no import cycle, small front rooms.

Every import counts, including those inside functions and ``from lska_demo import x``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from lska_demo.core.runtime import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "lska_demo"
MAX_FUNCTION_LINES = 80
MAX_SERVICE_LINES = 300
MAX_TOP_LEVEL_MODULES = 12

# The layers, lowest first. A subpackage may import its own modules and any subpackage of a lower layer;
# never one of its own layer or above.
LAYERS: list[tuple[str, ...]] = [
    ("core",),  # runtime, provenance, statistics, safetensors, the model cache
    ("model", "benchmark"),  # the LSKA family and YOLO graft; the benchmark data and untrusted images
    ("analysis",),  # the pure engine: cost, ERF, attention, kernels, detection
    ("train", "present"),  # Ultralytics' trainer; figures, drawings, explanations, the Teach tab's views
    ("zoo",),  # plans, manifest, verified loading, building, adapters, reports
    ("experiment",),  # the paired experiment on a user's data
    ("deploy",),  # ONNX export, the export box, weight transfer
    ("app",),  # the services per tab, sources, inputs, fairness, guard, launch
    ("ui", "cli"),  # the front ends
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# The package's own entry points: ``import lska_demo`` registers the modules, ``python -m lska_demo`` is the CLI.
ENTRY_POINTS = {"lska_demo": {"core", "model"}, "lska_demo.__main__": {"cli"}}
# What the UI may import besides the services: the names of choices, and the runtime's folders.
UI_ALLOWED = ("lska_demo.ui", "lska_demo.app", "lska_demo.model.vocabulary", "lska_demo.core.runtime")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {}
MODULE_NAMES: set[str] = set()


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & MODULE_NAMES
            found |= submodules or {node.module}  # ``from pkg import module`` depends on the module only
    return {name for name in found if name.startswith("lska_demo.")}


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
MODULE_NAMES = set(MODULES)
IMPORTS = {name: {m for m in _imports(path) if m in MODULES} for name, path in MODULES.items()}


def _subpackage(module: str) -> str:
    return module.split(".")[1]


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_every_subpackage_has_a_layer() -> None:
    subpackages = {_subpackage(m) for m in MODULES if m not in ENTRY_POINTS and m.count(".") >= 1}
    assert subpackages == set(RANK), f"layers missing or stale: {sorted(subpackages ^ set(RANK))}"


def test_the_scan_sees_imports_inside_functions() -> None:
    assert "lska_demo.analysis.erf" in IMPORTS["lska_demo.app.erf"]  # imported lazily inside ErfService.run


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_layers(module: str) -> None:
    if module in ENTRY_POINTS:
        bad = {m for m in IMPORTS[module] if _subpackage(m) not in ENTRY_POINTS[module]}
    else:
        own = _subpackage(module)
        bad = {m for m in IMPORTS[module] if _subpackage(m) != own and RANK[_subpackage(m)] >= RANK[own]}
    assert not bad, f"{module} imports {sorted(bad)} (not below its layer)"


def test_no_import_cycle() -> None:
    """Depth-first search over the module graph; a back edge is a cycle."""
    graph = defaultdict(set, {m: {i for i in IMPORTS[m] if i != m} for m in MODULES})
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles[:3]


@pytest.mark.parametrize("module", [m for m in MODULES if _within(m, "lska_demo.ui")])
def test_the_ui_reaches_the_engine_only_through_the_services(module: str) -> None:
    below = {m for m in IMPORTS[module] if not _within(m, *UI_ALLOWED)}
    assert not below, f"{module} imports {sorted(below)}"


def test_few_top_level_modules() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def _services() -> list[Path]:
    """The modules of ``app/`` that define a service (a class named ``...Service``)."""
    return [
        path
        for path in sorted((PACKAGE / "app").glob("*.py"))
        if any(isinstance(n, ast.ClassDef) and n.name.endswith("Service") for n in ast.parse(path.read_text()).body)
    ]


def test_the_service_front_is_split_per_tab() -> None:
    assert len(_services()) >= 5, [p.name for p in _services()]


@pytest.mark.parametrize("path", _services(), ids=lambda p: p.name)
def test_no_service_module_is_over_300_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_SERVICE_LINES


def _front_room_files() -> list[Path]:
    return [*sorted((PACKAGE / "ui").glob("*.py")), *sorted((PACKAGE / "app").glob("*.py"))]


@pytest.mark.parametrize("path", _front_room_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_in_the_front_rooms_is_longer_than_80_lines(path: Path) -> None:
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long
