"""Imports between domains point one way: down this list, never up it.

A module may import its own layer and the layers below. Shared facts (the enums, the task of
a spec, the dataset catalog) sit low enough that every domain can read them, so no domain
needs to reach sideways or up for them.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"

# Lowest first. ``app.client`` is the HTTP client: it talks to the server over HTTP only.
LAYERS: list[tuple[str, ...]] = [
    (
        "app.settings",
        "app.errors",
        "app.enums",
        "app.logs",
        "app.metrics",
        "app.db",
        "app.storage",
    ),
    ("app.runtimes",),  # ONNX Runtime, LiteRT, Keras: workers verify exports, APIs serve
    ("app.datasets", "app.dispatch"),
    ("app.runs",),
    ("app.sweeps",),
    ("app.training",),
    ("app.inference",),
    ("app.api", "app.main", "app.cli", "app.server", "app.observability", "app.limits", "app.web"),
]


def _layer(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [m for m in found if m == "app" or m.startswith("app.")]


def _module_of(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_domains_import_only_their_own_layer_and_below() -> None:
    upward = []
    for path in sorted(APP.rglob("*.py")):
        module = _module_of(path)
        if module == "app" or module.startswith("app.client"):
            continue
        own = _layer(module)
        assert own is not None, f"{module} belongs to no layer: add it to LAYERS"
        for imported in _imports(path):
            theirs = _layer(imported)
            if theirs is not None and theirs > own:
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_the_http_client_imports_nothing_of_the_server() -> None:
    crossing = [
        f"{_module_of(path)} imports {imported}"
        for path in sorted((APP / "client").rglob("*.py"))
        for imported in _imports(path)
        if not imported.startswith("app.client")
    ]
    assert crossing == []
