"""The package's shape, checked by parsing every module's imports: the core knows nothing of Streamlit,
pages touch no database driver, nobody reaches into another module's private names, lower layers never
import higher ones, and no module imports another in a loop."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "safetymap"
DRIVERS = ("sqlite3", "psycopg", "psycopg_pool")
COMPAT_MODULES = ("safetymap._compat", "safetymap.ui.component_compat")  # the places allowed other packages' private names
# Lower layers first; a module may import only modules of its own layer or below.
LAYERS = [
    {"safetymap.errors", "safetymap.clock", "safetymap.auth", "safetymap.schema", "safetymap._compat",
     "safetymap.redaction"},
    {"safetymap.geo"},
    {"safetymap.values", "safetymap.styles"},
    {"safetymap.validation", "safetymap.hazards"},
    {"safetymap.ledger", "safetymap.filters"},
    {"safetymap.backends", "safetymap.backends.locations", "safetymap.backends.tables", "safetymap.backends.gpkg", "safetymap.backends.gpkg_rtree", "safetymap.backends.frames",
     "safetymap.backends.gpkg_live", "safetymap.backends.gpkg_meta", "safetymap.backends.gpkg_bulk",
     "safetymap.backends.rows", "safetymap.backends.geopackage", "safetymap.backends.postgis"},
    {"safetymap.upgrades"},
    {"safetymap.store", "safetymap.hazard_ledger"},
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (``from ..x import y`` inside safetymap.io.z)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package(importer):
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) for every import statement in module ``name``."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = resolve(name, node)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.append((sub, None, node.lineno) if sub in MODULES else (module, alias.name, node.lineno))
    return found


def internal_edges(name: str) -> set[str]:
    return {module for module, _, _ in imports(name) if module in MODULES and module != name}


def layer_of(name: str) -> int:
    for rank, members in enumerate(LAYERS):
        if name in members:
            return rank
    return len(LAYERS)  # everything above the store: io, mapview, stats, cli, ui …


def test_the_walk_sees_every_module():
    assert len(MODULES) > 40 and "safetymap.store" in MODULES and "safetymap.ui.map_page" in MODULES


@pytest.mark.parametrize("name", [m for m in MODULES if not m.startswith("safetymap.ui")])
def test_core_modules_do_not_import_streamlit(name):
    bad = [(m, line) for m, _, line in imports(name) if m.split(".")[0] in ("streamlit", "streamlit_folium")]
    assert not bad, f"{name} imports Streamlit: {bad}"


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith("safetymap.ui")] + ["app"])
def test_pages_import_no_database_driver(name):
    path = ROOT / "app.py" if name == "app" else MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    used |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not used & set(DRIVERS), f"{name} talks to the database itself: {used & set(DRIVERS)}"


@pytest.mark.parametrize("name", list(MODULES))
def test_no_module_imports_a_private_name_of_another(name):
    bad = []
    for module, imported, line in imports(name):
        if imported and imported.startswith("_") and not imported.startswith("__") and module != name:
            if name in COMPAT_MODULES and not module.startswith("safetymap"):
                continue
            bad.append(f"line {line}: from {module} import {imported}")
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    modules_bound = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules_bound
                and node.attr.startswith("_") and not node.attr.startswith("__") and name not in COMPAT_MODULES):
            bad.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    assert not bad, f"{name} reaches into private names: {bad}"


@pytest.mark.parametrize("name", list(MODULES))
def test_lower_layers_never_import_higher_ones(name):
    rank = layer_of(name)
    higher = sorted(m for m in internal_edges(name) if layer_of(m) > rank)
    assert not higher, f"{name} (layer {rank}) imports higher layers: {higher}"


def test_no_module_imports_another_in_a_loop():
    graph = {name: internal_edges(name) - {"safetymap"} for name in MODULES}
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_opening_the_store_module_does_not_load_the_postgresql_backend():
    code = ("import sys, safetymap.store; "
            "print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'safetymap.backends.postgis'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_front_door_names_what_it_offers():
    import safetymap

    assert {"open_store", "create_store", "load_schema", "SafetymapError"} <= set(safetymap.__all__)
    for name in safetymap.__all__:
        assert getattr(safetymap, name) is not None
