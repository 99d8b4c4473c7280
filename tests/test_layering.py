"""The package's layers (docs/architecture.md), read from the source with ``ast``: imports point one way.

A module may import, anywhere in the file (functions included; ``if TYPE_CHECKING:`` blocks aside), only
from the layers its rule lists. ``from socialvalue import plot`` counts as importing ``socialvalue.plot``
(a submodule), ``from socialvalue import Store`` as importing the root package. No files import each other in
a circle, imports inside functions included (a package ``__init__`` counts as a file, and the names its lazy
table resolves on first use as its imports).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "socialvalue"

# -- the rule table: top-level module or package -> the top-level ones it may import ----------------------
KERNEL = frozenset(
    {
        "socialvalue.errors",
        "socialvalue._lazy",
        "socialvalue._version",
        "socialvalue.schema",
        "socialvalue.sqlsafe",
        "socialvalue.config",
        "socialvalue.atomic",
    }
)
_STORAGE = KERNEL | {
    "socialvalue.store",
    "socialvalue.engine",
    "socialvalue.ingest",
    "socialvalue.privacy",
    "socialvalue.published",
}
_BELOW_OUTPUTS = _STORAGE | {
    "socialvalue.models",
    "socialvalue.social",
    "socialvalue.features",
    "socialvalue.datasets",
    "socialvalue.demo",
    "socialvalue.decisions",
    "socialvalue.plot",
    "socialvalue.datastore",
    "socialvalue.experiments",
}
#: may import anything
TOP = frozenset({"socialvalue", "socialvalue.cli", "socialvalue.service"})

ALLOWED: dict[str, frozenset[str]] = {
    **dict.fromkeys(KERNEL, KERNEL),
    "socialvalue.models": KERNEL,  # pure maths on arrays and frames
    "socialvalue.social": KERNEL | {"socialvalue.models"},
    "socialvalue.features": KERNEL,  # SQL definitions only: nothing executes
    "socialvalue.store": KERNEL,  # the leaf: connection, migrations, transactions, query helpers
    "socialvalue.engine": KERNEL | {"socialvalue.store", "socialvalue.features"},
    # an engine too: the feature SQL (features), the seam's codes and batch size (engine), the ingest rules
    # its input checks (ingest), and store only for arrow_to_pandas, so its frames have DuckDB's dtypes; the
    # CLV models it fits on statistics and applies with mapInPandas (models) and the graph maths (social)
    "socialvalue.spark": KERNEL
    | {
        "socialvalue.store",
        "socialvalue.features",
        "socialvalue.engine",
        "socialvalue.ingest",
        "socialvalue.models",
        "socialvalue.social",
    },
    "socialvalue.ingest": _STORAGE,
    "socialvalue.privacy": _STORAGE,
    "socialvalue.published": _STORAGE,  # the snapshots the REST API serves, written from the store
    "socialvalue.datasets": _STORAGE - {"socialvalue.privacy"},
    "socialvalue.demo": _STORAGE - {"socialvalue.privacy"} | {"socialvalue.datasets"},
    "socialvalue.decisions": KERNEL | {"socialvalue.models", "socialvalue.social"},
    "socialvalue.plot": KERNEL | {"socialvalue.models", "socialvalue.social"},
    "socialvalue.datastore": KERNEL | {"socialvalue.store", "socialvalue.ingest", "socialvalue.privacy"},
    # control groups in the store: the decisions' experiment maths over the store, consent from privacy
    "socialvalue.experiments": _STORAGE | {"socialvalue.decisions"},
    # channel, cohort and share analysis: the insight SQL (features) run through an engine, the maths on frames
    "socialvalue.insight": KERNEL
    | {
        "socialvalue.store",
        "socialvalue.engine",
        "socialvalue.features",
        "socialvalue.models",
        "socialvalue.social",
    },
    "socialvalue.report": _BELOW_OUTPUTS | {"socialvalue.exports", "socialvalue.insight"},
    "socialvalue.exports": _BELOW_OUTPUTS | {"socialvalue.report", "socialvalue.insight"},
    # the run on either engine: the Spark run opens its session and engine (spark)
    "socialvalue.pipeline": _BELOW_OUTPUTS
    | {"socialvalue.report", "socialvalue.exports", "socialvalue.spark", "socialvalue.insight"},
    **dict.fromkeys(TOP, frozenset()),
}
#: layers in the table that have no code yet
FUTURE: frozenset[str] = frozenset()
#: pure maths and definitions: they never touch DuckDB, the store or the engine
PURE = ("socialvalue.models", "socialvalue.social", "socialvalue.decisions", "socialvalue.features")
PURE_FORBIDDEN = ("duckdb", "socialvalue.store", "socialvalue.engine", "socialvalue.datastore")


# -- reading imports ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    target: str  # the imported module, absolute
    line: int
    module_level: bool  # runs when the module is imported (not inside a function)
    type_checking: bool  # inside ``if TYPE_CHECKING:``


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> list[Import]:
    """Every import in the module ``name`` (relative ones resolved; ``from pkg import sub`` as ``pkg.sub``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, module_level, True)
            for child in node.orelse:
                visit(child, module_level, type_checking)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(a.name, node.lineno, module_level, type_checking) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            for alias in node.names:
                sub = f"{base_name}.{alias.name}"
                target = sub if sub in MODULES else base_name
                found.append(Import(target, node.lineno, module_level, type_checking))
        inner = module_level and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner, type_checking)

    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    visit(tree, True, False)
    if path.name == "__init__.py":
        found += _lazy_table(tree)
    return found


def _lazy_table(tree: ast.Module) -> list[Import]:
    """A package's table of names imported on first use (PEP 562, ``{"BetaGeo": "socialvalue.models..."}``).

    Each module named there is imported when the name is first read, so it counts as an import inside a
    function: a module that reads a name from its own package then closes a circle through the package.
    """

    def module_of(value: ast.expr) -> object:
        if (
            isinstance(value, ast.Call)
            and ast.unparse(value.func) == "dict.fromkeys"
            and len(value.args) == 2
        ):
            value = value.args[1]  # **dict.fromkeys(names, "socialvalue....")
        return value.value if isinstance(value, ast.Constant) else None

    found = []
    for node in tree.body:
        table = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if not isinstance(table, ast.Dict) or not table.values:
            continue
        targets = [module_of(v) for v in table.values]
        if all(isinstance(t, str) and t in MODULES for t in targets):
            found += [Import(t, v.lineno, False, False) for t, v in zip(targets, table.values, strict=True)]
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def layer(module: str) -> str:
    """The top-level module or package ``module`` belongs to (``socialvalue.models.btyd.bgnbd`` -> models)."""
    return ".".join(module.split(".")[:2])


def _runtime(name: str) -> list[Import]:
    return [i for i in IMPORTS[name] if not i.type_checking]


# -- tests ---------------------------------------------------------------------------------------------------
def test_every_import_points_down_the_layers():
    """Each violation is reported as ``module -> imported module (line N)``."""
    violations = []
    for name in MODULES:
        own = layer(name)
        allowed = ALLOWED.get(own)
        if allowed is None or own in TOP:
            continue  # the table's coverage is the next test; the top may import anything
        for imp in _runtime(name):
            if imp.target.split(".")[0] != "socialvalue":
                continue
            target = layer(imp.target)
            if target != own and target not in allowed:
                violations.append(f"{name} -> {imp.target} (line {imp.line})")
    assert not violations, "imports against the layering:\n" + "\n".join(violations)


def test_the_rule_table_places_every_package():
    """A new top-level module or package must be placed in a layer (a row of ``ALLOWED``)."""
    tops = {layer(name) for name in MODULES}
    unplaced = sorted(tops - set(ALLOWED))
    assert not unplaced, f"add a layering rule for: {', '.join(unplaced)}"
    stale = sorted(set(ALLOWED) - tops - FUTURE)
    assert not stale, f"rules for modules that no longer exist: {', '.join(stale)}"
    unknown = sorted({t for allowed in ALLOWED.values() for t in allowed} - set(ALLOWED))
    assert not unknown, f"rules name layers without a rule of their own: {', '.join(unknown)}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycle_between_modules():
    """Module-level runtime imports (what runs on import) form no cycle."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name in MODULES:
        for imp in _runtime(name):
            if imp.module_level and imp.target in MODULES and imp.target != name:
                graph[name].add(imp.target)
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


#: circles of files (functions included) still to be broken, each with what breaks it; the test fails when
#: one is gone, so its entry goes with it
OPEN_CYCLES: dict[frozenset[str], str] = {}


def test_no_import_cycle_between_files_functions_included():
    """No circle of files importing each other, counting imports inside functions and lazy tables too.

    Only ``if TYPE_CHECKING:`` imports are left out. A package's ``__init__`` is a file like any other: it may
    re-export its modules' names, as long as no module inside imports the package back. Each circle is listed
    with the imports that close it, ``module -> imported module (line N)``. A circle in :data:`OPEN_CYCLES`
    is known and waits for its fix; an entry whose circle is gone fails too.
    """
    graph: dict[str, set[str]] = defaultdict(set)
    lines: dict[tuple[str, str], list[int]] = defaultdict(list)
    for name in MODULES:
        for imp in _runtime(name):
            if imp.target in MODULES and imp.target != name:
                graph[name].add(imp.target)
                lines[name, imp.target].append(imp.line)
    report = []
    cycles = _cycles(graph)
    for cycle in cycles:
        members = set(cycle)
        if frozenset(members) in OPEN_CYCLES:
            continue
        ties = [
            f"  {a} -> {b} (line {', '.join(map(str, sorted(set(lines[a, b]))))})"
            for a in cycle
            for b in sorted(graph[a] & members)
        ]
        report.append(" <-> ".join(cycle) + ":\n" + "\n".join(ties))
    assert not report, "import cycles (functions included):\n" + "\n".join(report)
    closed = set(OPEN_CYCLES) - {frozenset(c) for c in cycles}
    assert not closed, "no longer a cycle, remove from OPEN_CYCLES: " + "; ".join(
        " <-> ".join(sorted(c)) for c in closed
    )


def test_pure_layers_touch_no_duckdb_store_or_engine():
    """models, social, decisions and features: no duckdb, store or engine import, not even for type hints."""
    found = []
    for name in MODULES:
        if layer(name) not in PURE:
            continue
        for imp in IMPORTS[name]:
            if any(imp.target == f or imp.target.startswith(f + ".") for f in PURE_FORBIDDEN):
                found.append(f"{name} -> {imp.target} (line {imp.line})")
    assert not found, "pure layers reaching for execution:\n" + "\n".join(found)


def test_importing_the_store_loads_only_the_kernel():
    """``import socialvalue.store`` in a fresh process imports no socialvalue package above the kernel."""
    code = "import sys, socialvalue.store; print('\\n'.join(m for m in sys.modules if m.startswith('socialvalue')))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "socialvalue.store" in loaded
    extra = sorted({m for m in loaded if layer(m) not in KERNEL | {"socialvalue", "socialvalue.store"}})
    assert not extra, f"importing socialvalue.store also imported: {', '.join(extra)}"


def test_the_layering_reader_sees_what_it_must(tmp_path):
    """The reader itself: relative and lazy imports count, ``TYPE_CHECKING`` ones are set apart."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from ..models import persist\n"
        "from . import charts\n"
        "from socialvalue import Store, plot\n"
        "if TYPE_CHECKING:\n"
        "    from socialvalue.store import Store\n"
        "class A:\n"
        "    import socialvalue.errors\n"
        "def f():\n"
        "    import duckdb\n",
        encoding="utf-8",
    )
    seen = {
        (i.target, i.line, i.module_level, i.type_checking)
        for i in _imports("socialvalue.report.probe", source)
    }
    assert seen == {
        ("typing", 1, True, False),
        ("socialvalue.models.persist", 2, True, False),
        ("socialvalue.report.charts", 3, True, False),
        ("socialvalue", 4, True, False),
        ("socialvalue.plot", 4, True, False),
        ("socialvalue.store", 6, True, True),
        ("socialvalue.errors", 8, True, False),
        ("duckdb", 10, False, False),
    }
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    # a package's table of lazily imported names counts as imports inside a function
    (tmp_path / "pkg").mkdir()
    init = tmp_path / "pkg" / "__init__.py"
    init.write_text(
        "_LAZY = {\n"
        '    "BetaGeo": "socialvalue.models.btyd.bgnbd",\n'
        '    **dict.fromkeys(("dump_document", "load_model"), "socialvalue.models.persist"),\n'
        "}\n"
        '_WORDS = {"BetaGeo": "not a module"}\n',
        encoding="utf-8",
    )
    assert {(i.target, i.line, i.module_level) for i in _imports("socialvalue.models.pkg", init)} == {
        ("socialvalue.models.btyd.bgnbd", 2, False),
        ("socialvalue.models.persist", 3, False),
    }
