"""The package as users install it: the wheel runs the demo, and it declares what it imports."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from crawler.demo import DEMO_RENDERED, DEMO_SITE, DEMO_SITE_2
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FIRST_PARTY = {"crawler", "db", "parsers", "tests", "bench", "fixtures"}
#: Datasette plugins: installed to be loaded by Datasette, never imported by the project.
PLUGINS = {"datasette-dashboards"}


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def imported_distributions(folders: list[str]) -> dict[str, set[str]]:
    """Distribution name -> the files of `folders` that import it."""
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY:
                        continue
                    if (path.parent / f"{top}.py").exists():  # a script's sibling module
                        continue
                    assert top in owners, f"{path}: {top} is imported but not installed"
                    for dist in owners[top]:
                        found.setdefault(_name(dist), set()).add(str(path.relative_to(ROOT)))
    return found


#: Extras of optional features: the package imports them only when the feature is used.
FEATURE_EXTRAS = ("browser",)


def test_the_package_declares_exactly_what_it_imports() -> None:
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = PYPROJECT["project"]["optional-dependencies"]
    declared |= {_name(r) for extra in FEATURE_EXTRAS for r in extras[extra]}
    imported = imported_distributions(["crawler", "db", "parsers"])
    undeclared = {dist: sorted(paths) for dist, paths in imported.items() if dist not in declared}
    assert undeclared == {}, "imported, so declare them in pyproject.toml"
    unused = declared - set(imported) - PLUGINS
    assert unused == set(), "declared but never imported"


def test_tests_and_benchmarks_import_only_declared_packages() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    declared = {_name(r) for group in extras.values() for r in group}
    declared |= {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    imported = imported_distributions(["tests", "bench", "fixtures"])
    assert {dist: sorted(paths) for dist, paths in imported.items() if dist not in declared} == {}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of the sources (nothing written to the tree)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "crawler", "db", "parsers"):
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, source / name)
    out = work / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-w", str(out), str(source)], check=True, capture_output=True)
    (built,) = out.glob("verdict_archive-*.whl")
    return built


@pytest.mark.parametrize(
    "site", [DEMO_SITE, DEMO_SITE_2, DEMO_RENDERED], ids=["demo_site", "demo_site_2", "demo_rendered"]
)
def test_the_wheel_ships_every_file_of_the_demo_sites(wheel: Path, site: Path) -> None:
    prefix = f"crawler/{site.name}/"
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n.removeprefix(prefix) for n in archive.namelist() if n.startswith(prefix)}
    assert shipped == set(files(site))


def test_verdicts_demo_runs_from_an_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "installed"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    away = tmp_path / "elsewhere"  # no fixtures/ folder anywhere near
    away.mkdir()
    program = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import crawler;"
        " print('FROM', crawler.__file__, flush=True); from crawler.cli import cli; cli()"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            program,
            str(target),
            "demo",
            "--no-serve",
            "--site-port",
            "0",
            "--db",
            "a.db",
        ],
        cwd=away,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"FROM {target}" in result.stdout  # the installed copy ran, not the source tree
    comparisons = re.search(r"comparisons\s+(\d+)", result.stdout)
    assert comparisons and int(comparisons.group(1)) > 0, result.stdout
