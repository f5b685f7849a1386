"""The layers point down: every import under app/ is checked, by reading it.

Dependency direction (docs: README "Layout"): web → api → models → events,
with the realtime registry installed behind events. Each module belongs to
one layer; it may import its own layer and those below, never one above.
Imports inside functions count as much as those at the top of a module: a
late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT

APP = PROJECT_ROOT / "app"

#: Lowest first. A module's layer is that of the longest prefix naming it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Plain values and the seam from models to realtime: know no other layer.
    (
        "base",
        (
            "app.events",
            "app.events_wire",
            "app.clock",
            "app.ids",
            "app.config",
            "app.metrics",
            "app.metrics_samples",
        ),
    ),
    # Tables, changes and the database they live in.
    (
        "models",
        (
            "app.models",
            "app.db",
            "app.db_faults",
            "app.group_commit",
            "app.checkpoints",
            "app.migrations",
        ),
    ),
    # Registry, broadcast, history and presence: read models, know no GraphQL.
    ("realtime", ("app.realtime",)),
    # GraphQL: schema, resolvers, execution.
    ("api", ("app.api",)),
    # Wire protocols, free of Tornado, on top of the api.
    ("protocols", ("app.protocols",)),
    # Tornado handlers, and what make_app hands them (app.services).
    ("web", ("app.web", "app.services")),
    # Assembly and process life.
    ("top", ("app.application", "app.http_server", "app.shutdown")),
)
TOP = len(LAYERS) - 1

#: (layer prefix, third-party package it must never import, why)
FORBIDDEN = (
    ("app.models", "tornado", "models know nothing of HTTP"),
    ("app.realtime", "graphql", "the registry knows nothing of GraphQL"),
    ("app.protocols", "tornado", "protocols are free of Tornado"),
)


def layer_of(module: str) -> int:
    """The layer of a module, or of a name imported from one."""
    if module == "app":
        return TOP  # the package itself
    best, found = -1, -1
    for rank, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), rank
    if found < 0:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(module: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import in `source`, anywhere in it; `from
    pkg import name` yields `pkg.name` (it may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """What in `source` (the text of `module`) breaks the layering."""
    own = layer_of(module)
    problems = []
    for line, name in imported(module, source, is_package):
        if name == "app" or name.startswith("app."):
            target = layer_of(name)
            if target > own:
                problems.append(
                    f"{module}:{line} imports {name}: layer {LAYERS[own][0]!r} "
                    f"may not import {LAYERS[target][0]!r}"
                )
        for prefix, package, why in FORBIDDEN:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (name == package or name.startswith(package + ".")):
                problems.append(f"{module}:{line} imports {name}: {why}")
    return problems


def app_modules() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def test_every_module_imports_only_its_layer_and_those_below() -> None:
    problems = []
    for path in app_modules():
        problems += violations(
            module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py"
        )
    assert problems == []


def test_every_module_has_a_layer() -> None:
    for path in app_modules():
        layer_of(module_name(path))


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # Upward, at module level and inside a function, both import forms.
        ("app.models.counter", "from app.web.base import BaseHandler\n", "may not import 'web'"),
        ("app.models.counter", "import app.api.schema\n", "may not import 'api'"),
        (
            "app.models.counter",
            "def f():\n    from app.realtime import registry\n",
            "may not import 'realtime'",
        ),
        ("app.events", "from app import db\n", "may not import 'models'"),
        ("app.api.operations", "from app.protocols.graphql_ws import X\n", "'protocols'"),
        ("app.realtime.registry", "from ..api import live\n", "may not import 'api'"),
        ("app.web.base", "import app.application\n", "may not import 'top'"),
        ("app.realtime.backends", "from app.services import Services\n", "'web'"),
        # Third-party packages a layer must not know.
        ("app.models.user", "def f():\n    import tornado.web\n", "know nothing of HTTP"),
        ("app.realtime.history", "from graphql import parse\n", "knows nothing of GraphQL"),
        ("app.protocols.graphql_ws", "from tornado import ioloop\n", "free of Tornado"),
    ],
)
def test_the_check_catches_an_upward_import(module: str, source: str, expected: str) -> None:
    (found,) = violations(module, source)
    assert expected in found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("app.web.base", "from app.models.user import User\nimport app.events\n"),
        ("app.realtime.history", "from app.events import Topic\n"),
        ("app.models.counter", "from . import stream\nfrom .base import BaseModel\n"),
        ("app.protocols.graphql_ws", "from app.api.payloads import OperationError\n"),
    ],
)
def test_the_check_lets_downward_imports_pass(module: str, source: str) -> None:
    assert violations(module, source) == []


def import_graph() -> dict[str, set[str]]:
    """Module → the modules under app/ it imports (a name imported from a
    module counts as that module)."""
    paths = {module_name(path): path for path in app_modules()}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        source = path.read_text(encoding="utf-8")
        targets = set()
        for _line, name in imported(module, source, path.name == "__init__.py"):
            while name and name not in paths:
                name = name.rpartition(".")[0]
            if name and name != module and paths[name].name != "__init__.py":
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each module that reaches itself, if any."""
    found = []
    for start in sorted(graph):
        path, stack, seen = [start], [iter(sorted(graph[start]))], {start}
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                path.pop()
            elif step == start:
                found.append([*path, start])
                break
            elif step not in seen:
                seen.add(step)
                path.append(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return found


def test_no_module_imports_itself_round_a_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"]]
