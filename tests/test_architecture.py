"""The import contract: domain first, entry points on top, the demo imported by nothing.

Read with `ast` from the source files (no extra dependency, nothing imported). The contract is
data: a new product app is one more name in PRODUCT_APPS; a new domain module or entry-point
file pattern is one more line in LAYERS. docs/architecture.md explains the direction.
"""

import ast
import fnmatch
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The product: what runs in production. Later apps (api, employer space, inspector space) are
# one more name here.
PRODUCT_APPS = [
    "clao",
    "accounts",
    "employers",
    "geo",
    "checkins",
    "api",
    "employer_space",
    "inspection",
]
# Demo and development code: installed only with CLAO_DEV_IDP=1 (clao/settings.py).
DEMO_APPS = ["demo"]

# Layers, as file patterns relative to the repository ("*" also crosses "/").
LAYERS = {
    "product": [f"{app}/*.py" for app in PRODUCT_APPS],
    "demo": [f"{app}/*.py" for app in DEMO_APPS],
    # The rules of the service: models, the open-IN rule, the one write path, number formats,
    # addresses.
    "domain": [
        "*/models.py",
        "checkins/rules.py",
        "checkins/services.py",
        "checkins/chain.py",
        "*/numbers.py",
        "*/ddt.py",
        "geo/addresses.py",
        "geo/loading.py",
        "accounts/niss.py",
        "api/credentials.py",
        # Where queries go (primary or replica): infrastructure the entry points call.
        "clao/db_router.py",
        # Querysets compiled once per process (hot read paths): infrastructure too.
        "clao/prepared.py",
        "accounts/roles.py",
        "employers/scoping.py",
        "employers/mandates.py",
        "employers/declarations.py",
        "employers/links.py",
        "employers/imports.py",
        "employers/sms.py",
        # The inspector space's rules: the role and scope, the search, the access log, the
        # corrections (through checkins.services.register).
        "inspection/roles.py",
        "inspection/search.py",
        "inspection/access.py",
        "inspection/corrections.py",
    ],
    # What answers requests: pages, their forms and URLs, and the request plumbing.
    "entry points": [
        "*/views.py",
        "*/day_views.py",
        "*/forms.py",
        "*/urls.py",
        "*/decorators.py",
        "*/middleware.py",
        # The web service: its schemas, the batch it stores item by item, its docs page.
        "api/schemas.py",
        "api/batches.py",
        "api/docs.py",
        "clao/health.py",
        # The employer space is an entry point as a whole (its poster and CSV helpers too).
        "employer_space/*.py",
        "*/context_processors.py",
    ],
}
# Layer -> the layers its modules must never import (at module level or inside a function).
NEVER_IMPORTS = {
    "product": ["demo"],
    "domain": ["entry points", "demo"],
}

# Where Registration rows are created: checkins/services.py alone (every channel, the demo
# and the test factories call register() or register_many()). One function builds a row for
# both; register() saves one, register_many() inserts a batch's rows in one statement.
REGISTRATION_WRITERS = {
    ("checkins/services.py", "_new_row"),
    ("checkins/services.py", "_insert"),
}
# Outside the product and the demo, the files that must go through it too.
ALSO_CHECKED_FOR_REGISTRATION_WRITES = ["tests/factories.py", "bench/*.py"]
CREATING_METHODS = {"create", "get_or_create", "update_or_create", "bulk_create"}
# The one exception: history loading writes rows with PostgreSQL COPY as the owner of the tables,
# bypassing register() on purpose (docs/architecture.md). (file, function): why
HISTORY_LOADERS = {
    ("bench/growth.py", "copy_history"): "7 years of synthetic history for the growth "
    "benchmark (issue 12): 10 million rows would take hours through register()",
}

# Imports inside a function between product modules: allowed (they run after every module is
# loaded), but listed here with why, so that each one is a decision. (importer, imported): why
FUNCTION_LEVEL_IMPORTS = {
    ("accounts/apps.py", "accounts.signals"): "ready() connects the receivers once models load",
    ("inspection/apps.py", "inspection.roles"): "ready() connects the IdP role hook",
    ("checkins/apps.py", "checkins.partitions"): "ready() registers the months-ahead check",
    ("geo/migrations/0002_load_municipalities.py", "geo.loading"): "only when the migration runs",
}


@dataclass(frozen=True)
class Import:
    importer: str  # path of the importing file, relative to the repository
    module: str  # the imported project module, dotted
    line: int
    in_function: bool  # inside a def: runs when called, not when the module is loaded
    type_checking: bool  # under `if TYPE_CHECKING:`: never runs


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in patterns)


def layers_of(path: str) -> set[str]:
    return {layer for layer, patterns in LAYERS.items() if matches(path, patterns)}


def files_of(apps: list[str]) -> list[str]:
    return sorted(relative(path) for app in apps for path in (ROOT / app).rglob("*.py"))


@cache
def module_files() -> dict[str, str]:
    """Dotted module name -> file, for every module of the product and the demo."""
    modules = {}
    for path in files_of(PRODUCT_APPS + DEMO_APPS):
        parts = path.removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def module_name(path: str) -> str:
    return next(name for name, file in module_files().items() if file == path)


def project_module(dotted: str) -> str | None:
    """The longest prefix of `dotted` that is a project module (a name imported from a module
    is not a module)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:end])) in module_files():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def imports_of(path: str) -> tuple[Import, ...]:
    tree = ast.parse((ROOT / path).read_text(), filename=path)
    name = module_name(path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found: list[Import] = []

    def add(dotted: str, node: ast.stmt, in_function: bool, type_checking: bool) -> None:
        if (module := project_module(dotted)) is not None:
            found.append(Import(path, module, node.lineno, in_function, type_checking))

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node, in_function, type_checking)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # `from . import x` is relative to the package, each further dot to its parent.
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from checkins import views` imports a module; `from x.models import Y` not.
                add(
                    f"{base}.{alias.name}" if base else alias.name, node, in_function, type_checking
                )
        for child in ast.iter_child_nodes(node):
            visit(
                child,
                in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef),
                type_checking or (isinstance(node, ast.If) and _is_type_checking(node.test)),
            )

    visit(tree, False, False)
    return tuple(found)


def describe(found: Import) -> str:
    where = " (inside a function)" if found.in_function else ""
    return f"{found.importer}:{found.line} imports {found.module}{where}"


# 1 and 2: what a layer never imports


def test_it_finds_the_modules_of_every_layer():
    # A renamed file must not make the rules below vacuous.
    every_file = files_of(PRODUCT_APPS + DEMO_APPS)
    for layer, patterns in LAYERS.items():
        assert any(matches(path, patterns) for path in every_file), f"layer {layer!r} is empty"
    for pattern in LAYERS["domain"]:
        assert any(fnmatch.fnmatch(path, pattern) for path in every_file), (
            f"no domain module matches {pattern!r}: update LAYERS"
        )
    assert module_files()["checkins.services"] == "checkins/services.py"


def test_it_never_lets_a_layer_import_what_it_must_not():
    offending = []
    for path in files_of(PRODUCT_APPS + DEMO_APPS):
        for layer in layers_of(path):
            forbidden = NEVER_IMPORTS.get(layer, [])
            for found in imports_of(path):
                target = module_files()[found.module]
                if hits := layers_of(target) & set(forbidden):
                    offending.append(f"{describe(found)}: {layer} never imports {sorted(hits)}")
    assert not offending, "\n".join(offending)


def test_it_sees_the_imports_it_judges():
    # The parser resolves relative and `from package import module` imports: the demo's
    # command uses both, and the dev IdP imports the product (allowed in that direction).
    imported = {found.module for found in imports_of("demo/management/commands/loaddemo.py")}
    assert {"demo.people", "demo.streets", "checkins.services"} <= imported
    assert "accounts.saml" in {found.module for found in imports_of("demo/idp.py")}
    assert "checkins.views" in {found.module for found in imports_of("checkins/urls.py")}


# 3: one function creates Registration rows


def _receiver_mentions_registrations(node: ast.expr) -> bool:
    """Registration.objects..., Registration._default_manager..., x.registrations..."""
    while isinstance(node, ast.Attribute | ast.Call):
        if isinstance(node, ast.Call):
            node = node.func
            continue
        if node.attr == "registrations":
            return True
        node = node.value
    return isinstance(node, ast.Name) and node.id == "Registration"


def registration_writes(source: str) -> list[tuple[int, str]]:
    """(line, enclosing function) of every Registration(...) or create call on registrations."""
    tree = ast.parse(source)
    writes = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call):
            func = node.func
            constructs = isinstance(func, ast.Name) and func.id == "Registration"
            creates = (
                isinstance(func, ast.Attribute)
                and func.attr in CREATING_METHODS
                and _receiver_mentions_registrations(func.value)
            )
            if constructs or creates:
                writes.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return writes


def test_it_creates_registration_rows_in_one_function_only():
    checked = files_of(PRODUCT_APPS + DEMO_APPS) + sorted(
        relative(path)
        for path in ROOT.rglob("*.py")
        if matches(relative(path), ALSO_CHECKED_FOR_REGISTRATION_WRITES)
    )
    writes = [
        (path, line, function)
        for path in checked
        for line, function in registration_writes((ROOT / path).read_text())
    ]
    elsewhere = [
        f"{path}:{line} in {function}() creates Registration rows: call "
        "checkins.services.register() or register_many() instead"
        for path, line, function in writes
        if (path, function) not in REGISTRATION_WRITERS
    ]
    assert not elsewhere, "\n".join(elsewhere)
    assert {(path, function) for path, _line, function in writes} == REGISTRATION_WRITERS


def copy_writes(source: str) -> set[str]:
    """The functions whose text holds a COPY into checkins_registration."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Constant)
                    and isinstance(inner.value, str)
                    and "copy checkins_registration" in inner.value.lower()
                ):
                    found.add(node.name)
    return found


def test_it_loads_history_by_copy_only_where_named():
    checked = files_of(PRODUCT_APPS + DEMO_APPS) + sorted(
        relative(path)
        for path in ROOT.rglob("*.py")
        if matches(relative(path), ALSO_CHECKED_FOR_REGISTRATION_WRITES)
    )
    found = {
        (path, function) for path in checked for function in copy_writes((ROOT / path).read_text())
    }
    assert found == set(HISTORY_LOADERS)
    assert copy_writes("def f(c): c.copy(f'COPY checkins_registration ({x}) FROM STDIN')") == {"f"}


def test_it_recognises_every_way_of_creating_registrations():
    source = (
        "def a(): Registration.objects.create(kind='IN')\n"
        "def b(): Registration(kind='IN').save()\n"
        "def c(w): w.registrations.create(kind='IN')\n"
        "def d(rows): Registration.objects.bulk_create(rows)\n"
        "def e(): Registration._default_manager.get_or_create(kind='IN')\n"
        "def f(): Registration.objects.filter(kind='IN').count()\n"
        "def g(): Street.objects.create(name='x')\n"
    )
    assert [function for _line, function in registration_writes(source)] == [
        "a",
        "b",
        "c",
        "d",
        "e",
    ]


# 4: no import cycle between the product's modules when they load


def load_time_graph() -> dict[str, set[str]]:
    """Product module -> the product modules it imports when it is loaded."""
    product = {module_name(path) for path in files_of(PRODUCT_APPS)}
    graph: dict[str, set[str]] = {module: set() for module in product}
    for path in files_of(PRODUCT_APPS):
        for found in imports_of(path):
            if found.in_function or found.type_checking or found.module not in product:
                continue
            if found.module != module_name(path):
                graph[module_name(path)].add(found.module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
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
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def test_it_has_no_import_cycle_between_product_modules():
    graph = load_time_graph()
    found = cycles(graph)
    assert not found, "\n".join(
        "import cycle: "
        + ", ".join(f"{module} -> {sorted(graph[module] & set(cycle))}" for module in cycle)
        for cycle in found
    )


def test_it_detects_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_it_lists_every_function_level_import_between_product_modules():
    product_files = files_of(PRODUCT_APPS)
    product = {module_name(path) for path in product_files}
    lazy = {
        (path, found.module)
        for path in product_files
        for found in imports_of(path)
        if found.in_function and found.module in product and found.module != module_name(path)
    }
    listed = set(FUNCTION_LEVEL_IMPORTS)
    assert lazy == listed, (
        "function-level imports between product modules changed; list them (with why) in "
        f"FUNCTION_LEVEL_IMPORTS: new {sorted(lazy - listed)}, gone {sorted(listed - lazy)}"
    )
