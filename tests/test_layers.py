"""The package tree is layered: imports only point down, and no module imports itself back.

The layer order below is the architecture, written as data. Every `import` / `from … import`
between modules of `daemon/` counts, including those only made for type checking (a type a
module names is a dependency a reader has to follow). A failure prints the offending
file → file and the names imported.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

DAEMON = Path(__file__).resolve().parent.parent / "daemon"

# Top to bottom. A package may import packages of its own layer (no circles) and any layer
# below it, never one above.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split("|"))
    for layer in (
        "__main__",
        "cli",  # the `collabd` command
        "demo",  # the guided tour; runs the CLI through its entry point
        "service",  # the daemon: workers, leases, health, journal
        "inbound",  # mail in: ingest, the route table, reading a reply, the default handler
        "rules|calendar|minutes|closing|archive|announce",  # the domain
        "ledger",  # records changes with their history; sends nothing
        "app",  # wiring: settings, database, clock, renderer, transport
        "mail",  # mechanics: transports, compose, render, reply reading, tokens, outbox
        "store|config",  # models, migrations, sessions; settings
        "clock|durations|errors|textwidth|__init__",  # plain helpers every layer may use
    )
)

# Edges the layer order would allow but the design does not.
FORBIDDEN = {("ledger", "mail"): "the ledger records; the caller queues mail"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(DAEMON.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in DAEMON.rglob("*.py")}


def _imports(modules: dict[str, Path]) -> dict[str, dict[str, set[str]]]:
    """module -> imported module -> names imported from it."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules and alias.name != name:
                        edges[name][alias.name].add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    found = submodule if submodule in modules else target
                    if found in modules and found != name:
                        edges[name][found].add(alias.name)
    return edges


def _part(module: str) -> str:
    """The top-level part of daemon a module belongs to: `daemon.mail.send` -> `mail`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(part: str) -> int:
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"daemon/{part} is in no layer: add it to LAYERS in {__file__}")


def _describe(edges, a: str, b: str) -> str:
    return f"{a} -> {b} ({', '.join(sorted(edges[a][b]))})"


def test_every_package_has_a_layer():
    for module in _modules():
        _layer(_part(module))


def test_imports_only_point_down():
    edges = _imports(_modules())
    upward = []
    for source, targets in edges.items():
        for target in targets:
            a, b = _part(source), _part(target)
            if _layer(b) < _layer(a):
                upward.append(_describe(edges, source, target))
            elif (a, b) in FORBIDDEN:
                upward.append(f"{_describe(edges, source, target)}: {FORBIDDEN[a, b]}")
    assert not upward, "imports that point up the layers:\n  " + "\n  ".join(sorted(upward))


def test_no_import_circles():
    edges = _imports(_modules())
    # Tarjan's strongly connected components: every component of more than one module is
    # a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(_modules()):
        if module not in index:
            visit(module)
    report = []
    for circle in circles:
        members = set(circle)
        report.append(
            " / ".join(circle)
            + ":\n    "
            + "\n    ".join(
                _describe(edges, a, b) for a in circle for b in edges.get(a, {}) if b in members
            )
        )
    assert not circles, "import circles:\n  " + "\n  ".join(report)


def test_the_check_sees_a_real_upward_import(tmp_path):
    """The graph builder is not blind: it finds the relative imports this tree uses."""
    edges = _imports(_modules())
    assert "daemon.mail.outbox" in edges["daemon.inbound.items"] or any(
        target.startswith("daemon.mail") for target in edges["daemon.inbound.items"]
    )
    assert "daemon.ledger.items" in edges["daemon.inbound.items"]
