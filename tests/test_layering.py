"""Imports point one way: api -> planner -> (optimization, geodata)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "optimization": {"geodata", "planner", "api"},
    "geodata": {"optimization", "planner", "api"},
    "planner": {"api"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package):
    bad = {}
    for path in (ROOT / package).rglob("*.py"):
        hits = imported_packages(path) & FORBIDDEN[package]
        if hits:
            bad[str(path.relative_to(ROOT))] = sorted(hits)
    assert not bad, f"{package} must not import {sorted(FORBIDDEN[package])}: {bad}"


def test_no_highspy_beside_ortools():
    # Both bundle HiGHS; importing the highspy wheel in a process with ortools crashes it.
    users = [str(p.relative_to(ROOT)) for pkg in ("optimization", "planner", "geodata", "api")
             for p in (ROOT / pkg).rglob("*.py") if "highspy" in imported_packages(p)]
    assert not users
