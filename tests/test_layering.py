"""The project's layering, checked statically from its imports.

Every ``.py`` file under ``bot/`` and ``handlers/`` is parsed with :mod:`ast` (nothing is
imported), and every import it makes is collected at any depth: at module level, inside
functions, and inside ``if TYPE_CHECKING:`` blocks. All of them count, so a cycle cannot be
hidden by deferring an import into a function or behind ``TYPE_CHECKING``.

``from X import Y`` is read as an import of the submodule ``X.Y`` when that is a project module,
and of ``X`` otherwise. Importing ``a.b.c`` also executes its parent packages, but only the edge
to the module actually named is counted.
"""

from __future__ import annotations

import ast
import functools
import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers")
# Alembic revision scripts: loaded by path by Alembic, never imported as modules.
SKIPPED = (Path("bot", "store", "migrations", "versions"),)

HANDLERS_MUST_NOT_IMPORT = (
    "bot.channels",
    "bot.web",
    "bot.host",
    "sqlalchemy",
    "sqlmodel",
    "telegram",
    "starlette",
    "uvicorn",
    "aiohttp",
    "httpx",
    "pywa",
)
CHANNELS = "bot.channels"
CHANNEL_BASE = "bot.channels.base"
CHANNELS_MUST_NOT_IMPORT = ("bot.scheduler",)

ARROW = " → "


@dataclass(frozen=True)
class Import:
    """One import statement's effect: ``importer`` (line ``line``) imports module ``target``."""

    importer: str
    target: str
    line: int
    context: str  # "module", "function" or "TYPE_CHECKING"

    def describe(self) -> str:
        where = "" if self.context == "module" else f" ({self.context})"
        return f"{self.importer}:{self.line} imports {self.target}{where}"


@dataclass(frozen=True)
class SourceModule:
    name: str
    path: Path
    is_package: bool


# --- Finding the project's modules ---------------------------------------------------------


def module_for(relative: Path) -> SourceModule:
    """``bot/knowledge/__init__.py`` → ``bot.knowledge`` (a package); ``bot/cli.py`` → ``bot.cli``."""
    parts = relative.with_suffix("").parts
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return SourceModule(".".join(parts), relative, is_package)


def find_modules(root: Path) -> dict[str, SourceModule]:
    modules: dict[str, SourceModule] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if any(relative.is_relative_to(skipped) for skipped in SKIPPED):
                continue
            module = module_for(relative)
            modules[module.name] = module
    return modules


# --- Collecting imports --------------------------------------------------------------------


def is_under(name: str, prefix: str) -> bool:
    """Whether module ``name`` is ``prefix`` itself or lies anywhere beneath it."""
    return name == prefix or name.startswith(prefix + ".")


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of ``from <level dots><name> import ...`` written in ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(package) - 1:
        raise ValueError(f"relative import beyond the top-level package in {module}")
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, project: AbstractSet[str]) -> None:
        self.module = module
        self.is_package = is_package
        self.project = project
        self.imports: list[Import] = []
        self._functions = 0
        self._type_checking = 0

    def _context(self) -> str:
        if self._type_checking:
            return "TYPE_CHECKING"
        return "function" if self._functions else "module"

    def _add(self, target: str, node: ast.stmt) -> None:
        self.imports.append(Import(self.module, target, node.lineno, self._context()))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            source = _resolve_relative(self.module, self.is_package, node.level, node.module)
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            self._add(submodule if submodule in self.project else source, node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function
    visit_Lambda = _visit_function

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self._type_checking += 1
        for statement in node.body:
            self.visit(statement)
        self._type_checking -= 1
        for statement in node.orelse:
            self.visit(statement)


def imports_in_source(
    source: str,
    module: str,
    *,
    is_package: bool = False,
    project: AbstractSet[str] = frozenset(),
    filename: str = "<string>",
) -> list[Import]:
    """Every import in ``source``, the text of ``module``, at any depth, in source order."""
    collector = _ImportCollector(module, is_package, project)
    collector.visit(ast.parse(source, filename=filename))
    # ``from X import a, b`` names X twice when neither is a submodule: keep one.
    return sorted(set(collector.imports), key=lambda item: (item.line, item.target))


@functools.cache
def project_imports() -> dict[str, list[Import]]:
    """For each project module, the imports it makes."""
    modules = find_modules(ROOT)
    assert modules, f"no modules found under {ROOT}"
    names = frozenset(modules)
    return {
        name: imports_in_source(
            (ROOT / module.path).read_text(encoding="utf-8"),
            name,
            is_package=module.is_package,
            project=names,
            filename=str(module.path),
        )
        for name, module in modules.items()
    }


# --- The internal graph and its cycles -----------------------------------------------------


def internal_target(target: str, project: AbstractSet[str]) -> str | None:
    """The project module an import of ``target`` names, or None for a third-party import.

    A name below a project module that is not itself one (``bot.gone.thing``) falls back to the
    nearest project module above it, the one Python would actually have to execute.
    """
    parts = target.split(".")
    if not any(is_under(module, parts[0]) for module in project):
        return None
    while parts:
        candidate = ".".join(parts)
        if candidate in project:
            return candidate
        parts.pop()
    return None


def build_graph(imports: Mapping[str, Iterable[Import]]) -> dict[str, set[str]]:
    project = set(imports)
    graph: dict[str, set[str]] = {name: set() for name in imports}
    for name, found in imports.items():
        for item in found:
            target = internal_target(item.target, project)
            if target is not None:
                graph[name].add(target)
    return graph


def strongly_connected_components(graph: Mapping[str, AbstractSet[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; each component sorted, components in sorted order."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def successors(node: str) -> Iterator[str]:
        return iter(sorted(graph.get(node, ())))

    for start in sorted(graph):
        if start in index:
            continue
        index[start] = lowlink[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work: list[tuple[str, Iterator[str]]] = [(start, successors(start))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = lowlink[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, successors(child)))
                elif child in on_stack:
                    lowlink[node] = min(lowlink[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return sorted(components)


def _shortest_cycle_through(
    node: str, graph: Mapping[str, AbstractSet[str]], within: AbstractSet[str]
) -> list[str]:
    """The shortest path ``node → ... → node`` that stays inside ``within``."""
    previous: dict[str, str] = {}
    queue = deque([node])
    seen = {node}
    while queue:
        current = queue.popleft()
        for child in sorted(graph.get(current, ())):
            if child not in within:
                continue
            if child == node:
                path = [current]
                while path[-1] != node:
                    path.append(previous[path[-1]])
                return [*reversed(path), node]
            if child not in seen:
                seen.add(child)
                previous[child] = current
                queue.append(child)
    raise AssertionError(f"{node} is on no cycle")  # unreachable for a component member


def _rotated(cycle: list[str]) -> tuple[str, ...]:
    """A cycle ``[a, b, c, a]`` rotated to start (and end) at its smallest member."""
    ring = cycle[:-1]
    start = ring.index(min(ring))
    ring = ring[start:] + ring[:start]
    return (*ring, ring[0])


def find_cycles(graph: Mapping[str, AbstractSet[str]]) -> list[list[str]]:
    """Import cycles, each as a closed path ``[a, b, ..., a]``.

    Every strongly connected component with more than one module is reported, by the shortest
    cycle through each of its members (deduplicated), and so is every module that imports itself.
    """
    cycles: set[tuple[str, ...]] = set()
    for component in strongly_connected_components(graph):
        if len(component) == 1:
            (node,) = component
            if node in graph.get(node, ()):
                cycles.add((node, node))
            continue
        members = set(component)
        for node in component:
            cycles.add(_rotated(_shortest_cycle_through(node, graph, members)))
    return [list(cycle) for cycle in sorted(cycles)]


def format_cycle(cycle: list[str]) -> str:
    return ARROW.join(cycle)


# --- Self-tests: the analysis can fail -----------------------------------------------------


def test_cycle_detector_finds_a_cycle() -> None:
    graph: dict[str, set[str]] = {"a": {"b"}, "b": {"a"}, "c": set()}
    assert [format_cycle(cycle) for cycle in find_cycles(graph)] == ["a → b → a"]


def test_cycle_detector_finds_self_loops_and_longer_cycles() -> None:
    graph: dict[str, set[str]] = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},
        "d": set(),
        "e": {"e"},
    }
    assert [format_cycle(cycle) for cycle in find_cycles(graph)] == [
        "a → b → c → a",
        "e → e",
    ]


def test_cycle_detector_is_quiet_on_an_acyclic_graph() -> None:
    graph: dict[str, set[str]] = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a"}}
    assert find_cycles(graph) == []
    assert all(len(component) == 1 for component in strongly_connected_components(graph))


def test_import_collector_finds_imports_at_every_depth() -> None:
    source = """
from __future__ import annotations

import os.path
from typing import TYPE_CHECKING

from pkg import sub, not_a_module
from . import sibling
from .sibling import thing
from .. import a as parent

if TYPE_CHECKING:
    from pkg.hidden import Hidden
else:
    import runtime_only

def later() -> None:
    import pkg.lazy
    from pkg.sub import helper

class Holder:
    async def method(self) -> None:
        from pkg.deep.inner import value
"""
    project = {"pkg", "pkg.sub", "pkg.a", "pkg.a.sibling", "pkg.hidden"}
    found = imports_in_source(source, "pkg.a.mod", project=project)
    seen = {(item.target, item.context) for item in found}
    assert seen == {
        ("__future__", "module"),
        ("os.path", "module"),
        ("typing", "module"),
        ("pkg.sub", "module"),  # a submodule: resolved to pkg.sub
        ("pkg", "module"),  # not a submodule: an attribute of pkg
        ("pkg.a.sibling", "module"),  # relative, and a submodule
        ("pkg.a", "module"),  # ``from .. import a``: two levels up, a submodule
        ("pkg.hidden", "TYPE_CHECKING"),
        ("runtime_only", "module"),
        ("pkg.lazy", "function"),
        ("pkg.sub", "function"),
        ("pkg.deep.inner", "function"),
    }
    assert all(item.importer == "pkg.a.mod" for item in found)
    # The graph counts the named module only, falling back to the nearest existing one.
    graph = build_graph({"pkg.a.mod": found, **{name: [] for name in project}})
    assert graph["pkg.a.mod"] == {"pkg", "pkg.sub", "pkg.a", "pkg.a.sibling", "pkg.hidden"}


def test_relative_imports_resolve_from_packages_and_modules() -> None:
    in_package = imports_in_source("from . import x\nfrom .y import z\n", "p.q", is_package=True)
    in_module = imports_in_source("from . import x\nfrom .y import z\n", "p.q")
    assert [item.target for item in in_package] == ["p.q", "p.q.y"]
    assert [item.target for item in in_module] == ["p", "p.y"]


def test_module_names_follow_file_paths() -> None:
    assert module_for(Path("bot/knowledge/__init__.py")) == SourceModule(
        "bot.knowledge", Path("bot/knowledge/__init__.py"), True
    )
    assert module_for(Path("bot/cli.py")).name == "bot.cli"
    modules = find_modules(ROOT)
    assert {"bot", "handlers", "bot.knowledge"} <= set(modules)
    assert not any(".versions." in name for name in modules)


# --- The layering rules --------------------------------------------------------------------


def test_no_import_cycles() -> None:
    imports = project_imports()
    graph = build_graph(imports)
    cycles = find_cycles(graph)
    if not cycles:
        return
    project = set(imports)
    lines = [f"{len(cycles)} import cycle(s) among project modules:"]
    for cycle in cycles:
        lines.append(f"  {format_cycle(cycle)}")
        for importer, imported in itertools.pairwise(cycle):
            lines.extend(
                f"      {item.describe()}"
                for item in imports[importer]
                if internal_target(item.target, project) == imported
            )
    pytest.fail("\n".join(lines), pytrace=False)


def _violations(found: Iterable[Import], forbidden: Iterable[str]) -> list[str]:
    forbidden = tuple(forbidden)
    return [
        item.describe()
        for item in found
        if any(is_under(item.target, prefix) for prefix in forbidden)
    ]


def _report(rule: str, violations: list[str]) -> str:
    return "\n".join([f"{len(violations)} import(s) break the rule: {rule}", *violations])


def test_handlers_do_not_import_channels_web_or_sql() -> None:
    violations = [
        violation
        for name, found in sorted(project_imports().items())
        if is_under(name, "handlers")
        for violation in _violations(found, HANDLERS_MUST_NOT_IMPORT)
    ]
    rule = "handlers import none of " + ", ".join(HANDLERS_MUST_NOT_IMPORT)
    if violations:
        pytest.fail(_report(rule, violations), pytrace=False)


def test_channels_do_not_import_handlers() -> None:
    violations = [
        violation
        for name, found in sorted(project_imports().items())
        if is_under(name, CHANNELS)
        for violation in _violations(found, ["handlers"])
    ]
    if violations:
        pytest.fail(
            _report("bot.channels imports nothing under handlers", violations), pytrace=False
        )


def channel_violations(imports: Mapping[str, Iterable[Import]]) -> list[str]:
    """Imports by a channel module ``bot.channels.X`` of another channel, or of the scheduler.

    A channel may import the package ``bot.channels``, ``bot.channels.base``, and its own
    modules (when it is a package ``bot/channels/X/``).
    """
    violations: list[str] = []
    for name, found in sorted(imports.items()):
        if not is_under(name, CHANNELS) or name == CHANNELS or is_under(name, CHANNEL_BASE):
            continue
        own = ".".join(name.split(".")[:3])
        for item in found:
            other_channel = (
                is_under(item.target, CHANNELS)
                and item.target != CHANNELS
                and not is_under(item.target, CHANNEL_BASE)
                and not is_under(item.target, own)
            )
            forbidden = any(is_under(item.target, p) for p in CHANNELS_MUST_NOT_IMPORT)
            if other_channel or forbidden:
                violations.append(item.describe())
    return violations


def test_channel_rule_can_fail() -> None:
    def imports(module: str, *targets: str) -> list[Import]:
        return [Import(module, target, line, "module") for line, target in enumerate(targets, 1)]

    found = {
        "bot.channels": imports("bot.channels", "bot.channels.telegram"),
        "bot.channels.base": imports("bot.channels.base", "bot.scheduler"),
        "bot.channels.telegram": imports(
            "bot.channels.telegram",
            "bot.channels",
            "bot.channels.base",
            "bot.channels.terminal",
            "bot.scheduler",
            "bot.schedulers",
        ),
    }
    assert channel_violations(found) == [
        "bot.channels.telegram:3 imports bot.channels.terminal",
        "bot.channels.telegram:4 imports bot.scheduler",
    ]
    assert _violations(imports("handlers.x", "sqlalchemy.exc", "sqlalchemyx"), ["sqlalchemy"]) == [
        "handlers.x:1 imports sqlalchemy.exc"
    ]


def test_channels_know_nothing_of_each_other_or_the_scheduler() -> None:
    violations = channel_violations(project_imports())
    rule = (
        "a channel imports no other channel (only bot.channels and bot.channels.base) "
        "and not bot.scheduler"
    )
    if violations:
        pytest.fail(_report(rule, violations), pytrace=False)
