"""The shape docs/architecture.md promises, checked on the source: no import cycle, layers that import one way,
small modules and functions. Read with `ast`, so nothing is imported or run."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every first-party package; an app added later joins this list (the test below finds it if it is forgotten).
PACKAGES = ("novaops", "agents", "metrics", "dashboards", "escalations", "meetings")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Where business logic lives: never the HTTP layer (DRF, views, API modules) and never the tasks that call it.
LOGIC_LAYERS = ("services", "selectors", "models", "constants")
HTTP_MODULES = ("rest_framework", "django.http", "django.shortcuts", "novaops.api", "novaops.routing")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> Iterator[tuple[str, Path, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield _module_name(path), path, ast.parse(path.read_text(), filename=str(path))


def _imports(name: str, tree: ast.Module) -> set[str]:
    """Every module `name` imports, at the top or inside a function ("from x import y" counts x, and x.y when
    y is a module of ours)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.rsplit(".", node.level)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


SOURCES = {name: (path, tree) for name, path, tree in _sources()}
GRAPH = {name: {m for m in _imports(name, tree) if m in SOURCES and m != name} for name, (_, tree) in SOURCES.items()}


def test_every_first_party_package_is_checked():
    apps = {path.parent.name for path in ROOT.glob("*/apps.py")}
    assert apps <= set(PACKAGES), f"add {sorted(apps - set(PACKAGES))} to PACKAGES"


def test_no_import_cycle():
    """Depth-first search for a back edge; the cycle found is printed whole."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(GRAPH):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " → ".join(cycle))


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if _layer(m) in LOGIC_LAYERS))
def test_logic_never_imports_the_http_layer_or_tasks(module):
    imported = _imports(module, SOURCES[module][1])
    http = sorted(m for m in imported if m.split(".")[0] == "rest_framework" or m in HTTP_MODULES)
    upward = sorted(m for m in imported if m in SOURCES and _layer(m) in ("apis", "api", "views", "tasks"))
    assert not http, f"{module} imports the HTTP layer: {http}"
    assert not upward, f"{module} imports a layer above it: {upward} (enqueue tasks by name: novaops.celery.enqueue)"


def test_the_core_does_not_depend_on_the_apps():
    """novaops holds what every app shares; only its wiring (urls, settings) names the apps."""
    wiring = {"novaops.urls", "novaops.settings", "novaops.wsgi"}
    apps = set(PACKAGES) - {"novaops"}
    offenders = {
        module: sorted(target for target in targets if target.split(".")[0] in apps)
        for module, targets in GRAPH.items()
        if module.split(".")[0] == "novaops" and module not in wiring
    }
    assert not {module: targets for module, targets in offenders.items() if targets}


def test_modules_and_functions_stay_small():
    too_long: list[str] = []
    for module, (path, tree) in SOURCES.items():
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{module}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{module}.{node.name}: {length} lines")
    assert not too_long, f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function: {too_long}"
