"""Imports point one way (ARCHITECTURE.md, "Domains"): checked, not only described.

The layers, from the bottom:

- the **base**: the modules directly under ``rongbank`` (``db``, ``outbox``,
  ``clock``, ``money``, ``branding``...), which import no domain;
- the **domains**: every package under ``rongbank`` but the boundary. ``ledger``
  imports no other domain, and no two domains import each other, however
  indirectly. A domain keeps its own entry points beside it (``endpoints.py``,
  ``*_endpoints.py``, ``cli.py``, ``bench.py``, the chat ``gateway.py``, as Polar
  does); they may use the boundary's public helpers (:data:`ENTRY_MAY_IMPORT`), and
  the rest of the domain (services, repositories, rules, events) imports nothing of
  the boundary;
- the **boundary**: ``platform`` (with ``platform_auth`` and ``platform_jobs``, mixed
  into it), ``api``, ``web``, ``cli``, ``demo``, which wire the domains and serve them.

No import cycle between modules either. And no module uses another's private
(``_underscore``) names: a name two modules share is public in the one that owns it.
What the code does otherwise today is listed below with its reason: delete the entry
when it is fixed (a test fails while a listed exception is no longer needed), and add
none without a reason.
"""

from __future__ import annotations

import ast
import graphlib
import importlib.util
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import grimp
import pytest

PACKAGE = "rongbank"
BOUNDARY = frozenset({"platform", "platform_auth", "platform_jobs", "api", "web", "cli", "demo"})
ENTRY_POINTS = frozenset({"endpoints", "cli", "bench", "gateway"})
ENTRY_MAY_IMPORT = frozenset(
    {
        "rongbank.platform",
        "rongbank.api.deps",
        "rongbank.api.one_hop",
        "rongbank.api.app",
        "rongbank.api.docs",
        "rongbank.cli.platform",
    }
)
"""What a domain's entry points may use of the boundary: the platform they are handed,
the API's dependencies and the route class its routers are made with, the app a
benchmark serves, the platform a command opens."""

EXCEPTIONS: dict[tuple[str, str], str] = {
    ("rongbank.payments.counter", "rongbank.platform"): (
        "the counter's use case owns its transactions through Platform.authorised; it "
        "moves with the step-up flows out of platform_auth.py into auth (EXAMPLES.md 5)"
    ),
    ("rongbank.chat.gateway", "rongbank.web.pages"): (
        "the WebSocket takes the web bank's login cookie names from web.pages; they "
        "belong with the login below both (web/pages.py is being split: EXAMPLES.md 10)"
    ),
}
"""Imports that break a rule today: (importer, imported) and why it is still there."""

CYCLES: dict[frozenset[str], str] = {}
"""Import cycles between modules that are there today, and why."""

PRIVATE_USES: dict[tuple[str, str], str] = {}
"""(module, the other module's private name it uses) that are there today, and why."""


@cache
def graph(*, at_run_time: bool = False) -> grimp.ImportGraph:
    """Every import, or (``at_run_time``) those outside ``if TYPE_CHECKING:``. A
    layer may not be named even in annotations; a cycle matters when it runs."""
    return grimp.build_graph(PACKAGE, cache_dir=None, exclude_type_checking_imports=at_run_time)


def area(module: str) -> str:
    """The folder (domain or boundary) a module is in; "" for the base."""
    parts = module.split(".")
    if len(parts) == 1:
        return ""
    if parts[1] in BOUNDARY or f"{PACKAGE}.{parts[1]}" in packages():
        return parts[1]
    return ""


@cache
def packages() -> frozenset[str]:
    """The packages directly under ``rongbank``."""
    return frozenset(".".join(m.split(".")[:2]) for m in graph().modules if m.count(".") > 1)


def domains() -> frozenset[str]:
    return frozenset(p.split(".")[1] for p in packages()) - BOUNDARY


def is_entry_point(module: str) -> bool:
    name = module.rsplit(".", 1)[-1]
    return name in ENTRY_POINTS or name.endswith("_endpoints")


def imports(*, at_run_time: bool = False) -> Iterable[tuple[str, str]]:
    g = graph(at_run_time=at_run_time)
    for importer in sorted(g.modules):
        for imported in sorted(g.find_modules_directly_imported_by(importer)):
            yield importer, imported


def where(importer: str, imported: str) -> str:
    details = graph().get_import_details(importer=importer, imported=imported)
    line = details[0] if details else {"line_number": "?", "line_contents": ""}
    return f"{importer}:{line['line_number']} {line['line_contents']}"


def breaking(rule: str, found: Iterable[tuple[str, str]]) -> list[str]:
    return [where(a, b) + f"  ({rule})" for a, b in found if (a, b) not in EXCEPTIONS]


class TestDirection:
    def test_the_base_imports_no_domain_and_no_boundary(self) -> None:
        found = [(a, b) for a, b in imports() if area(a) == "" and area(b) != ""]
        assert breaking("the base imports nothing above it", found) == []

    def test_the_ledger_imports_no_other_domain(self) -> None:
        found = [
            (a, b)
            for a, b in imports()
            if area(a) == "ledger" and area(b) in domains() and area(b) != "ledger"
        ]
        assert breaking("the ledger stands alone", found) == []

    def test_no_domain_imports_the_boundary(self) -> None:
        found = [
            (a, b)
            for a, b in imports()
            if area(a) in domains()
            and area(b) in BOUNDARY
            and not (is_entry_point(a) and b in ENTRY_MAY_IMPORT)
        ]
        assert breaking("a domain imports no platform, api, web or cli", found) == []

    def test_no_two_domains_import_each_other(self) -> None:
        above: dict[str, set[str]] = {}
        for a, b in imports():
            if {area(a), area(b)} <= domains() and area(a) != area(b) and (a, b) not in EXCEPTIONS:
                above.setdefault(area(a), set()).add(area(b))
        assert cycle(above) is None


class TestCycles:
    def test_no_import_cycle_between_modules(self) -> None:
        edges: dict[str, set[str]] = {}
        for a, b in imports(at_run_time=True):
            listed = any({a, b} <= c for c in CYCLES)
            if (a, b) not in EXCEPTIONS and not listed:
                edges.setdefault(a, set()).add(b)
        assert cycle(edges) is None


class TestPrivateNames:
    def test_no_module_uses_another_modules_private_names(self) -> None:
        found = [
            f"{module}:{line} uses {name}"
            for module, name, line in private_uses()
            if (module, name) not in PRIVATE_USES
        ]
        assert found == [], "make the name public in the module it belongs to"

    @pytest.mark.parametrize("listed", sorted(PRIVATE_USES), ids="->".join)
    def test_each_listed_use_is_still_there(self, listed: tuple[str, str]) -> None:
        assert listed in {(m, n) for m, n, _ in private_uses()}, (
            "fixed: delete it from PRIVATE_USES"
        )


class TestExceptions:
    @pytest.mark.parametrize("listed", sorted(EXCEPTIONS), ids="->".join)
    def test_each_listed_import_is_still_there(self, listed: tuple[str, str]) -> None:
        importer, imported = listed
        assert imported in graph().find_modules_directly_imported_by(importer), (
            "fixed: delete it from EXCEPTIONS"
        )

    @pytest.mark.parametrize("listed", sorted(CYCLES, key=sorted), ids="+".join)
    def test_each_listed_cycle_is_still_there(self, listed: frozenset[str]) -> None:
        edges: dict[str, set[str]] = {}
        for a, b in imports(at_run_time=True):
            if {a, b} <= listed:
                edges.setdefault(a, set()).add(b)
        assert cycle(edges) is not None, "fixed: delete it from CYCLES"


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its nodes, the first repeated last), or None."""
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as error:
        found: list[str] = error.args[1]
        return found
    return None


@cache
def sources() -> dict[str, Path]:
    """Each module of the package, by name, and its file."""
    spec = importlib.util.find_spec(PACKAGE)
    assert spec is not None
    assert spec.origin is not None
    root = Path(spec.origin).parent
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def private_uses() -> Iterator[tuple[str, str, int]]:
    """(module, ``other.module._name``, line) for each private name of another module of
    the package that a module imports (``from other.module import _name``) or reads
    (``module._name`` of a module it imported)."""
    modules = sources()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        bound: dict[str, str] = {}  # a local name -> the module of the package it is
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        bound[alias.asname or alias.name] = f"{base}.{alias.name}"
                    if base in modules and base != module and _private(alias.name):
                        yield module, f"{base}.{alias.name}", node.lineno
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in modules:
                        bound[alias.asname] = alias.name
                    elif not alias.asname and alias.name.split(".")[0] == PACKAGE:
                        bound[PACKAGE] = PACKAGE
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                owner = _dotted(node.value, bound)
                if owner in modules and owner != module:
                    yield module, f"{owner}.{node.attr}", node.lineno


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _dotted(node: ast.expr, bound: dict[str, str]) -> str | None:
    """The module ``node`` names (``bench``, ``rongbank.api.bench``), if it names one."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value, bound)
        return f"{owner}.{node.attr}" if owner else None
    return None
