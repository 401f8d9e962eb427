"""The package as a user installs it: a wheel built from the tree holds every subpackage, and its CLI runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lska_demo.core.runtime import PROJECT_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy: setuptools writes build/ and egg-info/ beside the sources
    shutil.copytree(PROJECT_ROOT / "lska_demo", source / "lska_demo", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    # --no-build-isolation: setuptools is already here and the machine may be offline
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source)]
    subprocess.run([*cmd, "-w", str(out)], check=True, cwd=out, timeout=300)
    (built,) = out.glob("lska_demo-*.whl")
    return built


def test_the_wheel_holds_every_subpackage(wheel: Path) -> None:
    in_tree = {str(p.parent.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "lska_demo").rglob("__init__.py")}
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {str(Path(name).parent) for name in archive.namelist() if name.endswith("__init__.py")}
        modules = {name for name in archive.namelist() if name.endswith(".py")}
    assert in_tree <= in_wheel, sorted(in_tree - in_wheel)
    tree_modules = {str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "lska_demo").rglob("*.py")}
    assert tree_modules == modules, sorted(tree_modules ^ modules)


def test_the_cli_runs_from_an_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run(
        [sys.executable, "-m", "lska_demo", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for name in ("experiment", "export", "reproduce", "convert", "domain-eval", "report", "bench"):
        assert name in run.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import lska_demo.ui, lska_demo.cli.main, lska_demo; print(lska_demo.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr[-2000:]
    assert where.stdout.strip().startswith(str(target))
