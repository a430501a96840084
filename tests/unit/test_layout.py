"""The layout's rules, read from the source: what may import what.

- the product (services/augur) imports neither training nor the tools;
- training imports no tool;
- no import cycle between the product's packages (a service may use the chassis, the
  feature library and another service's public module, but never in both directions); a
  service's ``main.py`` is its composition root and may wire in others' parts (the contact
  service's erasure asks outreach, churn and ingest to erase what they hold), but nothing
  imports a ``main.py``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "services" / "augur"
TRAINING = ROOT / "training" / "augur"
TOOLS = ("augur.cli", "augur.devtools")


def _imports(folder: Path) -> dict[str, set[str]]:
    """module name -> the augur modules it imports (at any depth, lazily or not)."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        if "/v1/" in path.as_posix():
            continue
        module = ".".join(path.relative_to(folder.parent).with_suffix("").parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[module] = {n for n in names if n == "augur" or n.startswith("augur.")}
    return found


def _offenders(found: dict[str, set[str]], banned: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in found.items()
        for name in names
        if name.startswith(banned)
    )


def test_the_product_imports_neither_training_nor_the_tools() -> None:
    found = _imports(PRODUCT)
    assert len(found) > 50, "the product's modules were not found"
    assert _offenders(found, ("augur.training", *TOOLS)) == []


def test_training_imports_no_tool() -> None:
    found = _imports(TRAINING)
    assert len(found) > 20
    assert _offenders(found, TOOLS) == []


def test_no_import_cycle_between_the_products_packages() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    found = _imports(PRODUCT)
    wiring = {m for m in found if m.endswith(".main")}
    assert not {n for names in found.values() for n in names} & wiring, "a main.py is imported"
    for module, names in found.items():
        if module in wiring:
            continue
        package = module.split(".")[1]
        for name in names:
            parts = name.split(".")
            if len(parts) > 1 and parts[1] != package and (len(parts) < 3 or parts[2] != "v1"):
                edges[package].add(parts[1])

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or reaches(nxt, goal, seen | {nxt}) for nxt in edges[start] - seen)

    cycles = sorted(p for p in list(edges) if reaches(p, p, set()))
    assert cycles == [], f"packages on an import cycle: {cycles}; edges: {dict(edges)}"


def test_the_fast_lane_refuses_network_and_processes() -> None:
    import socket
    import subprocess

    import pytest

    with pytest.raises(AssertionError, match="unit test connected"):
        socket.create_connection(("127.0.0.1", 6379), timeout=0.1)
    with pytest.raises(AssertionError, match="unit test started a process"):
        subprocess.run(["true"], check=False)
