"""Querysets compiled to SQL once per process, then run many times with new values.

Building a queryset and compiling it to SQL costs the ORM CPU on every request, for SQL that
only its values change: the day list's query (three subqueries, two EXISTS) took 2.5 ms of CPU
to build and compile, six times what running it costs. `Prepared(build)` builds the queryset
once, with a `Slot` wherever a value goes, compiles it once per database alias, and each run
passes the values and gets either model instances through `objects()` (made as iterating the
queryset makes them: the model's column conversions apply, annotations become attributes) or,
for a values_list() queryset, its tuples through `values()` (converted by the compiler that made
the SQL): many rows are read as tuples, a model instance each would cost more than the query.

For hot read paths whose query shape never depends on the values. The queryset stays the
source of the SQL (nothing is written by hand), and it is read where the router says at each
run (a replica inside `reads_may_lag()`).

`Prepared(build, function="name")` also spares PostgreSQL its planning: on a table partitioned
by month, planning the day list's query took ten times what running it took (0.8 ms against
0.08). Server-side prepared statements would keep the plan, but PgBouncer in transaction
pooling (Debian's 1.18) cannot carry them. A PL/pgSQL function can: `migrate` (post_migrate,
`install_functions`) creates `clao_q_<name>_<digest>` whose body is the compiled SQL with the
slots as arguments, and each server connection keeps its generic plan (`plan_cache_mode =
force_generic_plan`: the months are pruned when it runs). The digest is of the SQL and its
types: a changed queryset gets a new function at the next `migrate`, and until then (or on
SQLite) the SQL runs as before. Each new connection looks up which functions exist.

This module is infrastructure: it imports Django only.
"""

import dataclasses
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from django.db import connections, router
from django.db.backends.signals import connection_created
from django.db.models import Expression, Field, QuerySet
from django.db.models.expressions import DatabaseDefault
from django.db.models.query import _get_from_db, get_related_populators
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLCompiler
from django.urls import get_resolver
from psycopg import sql as psycopg_sql


@dataclass(frozen=True)
class _Marker:
    """Stands in the compiled parameters for the value of a slot."""

    name: str
    field: Field


class Slot(Expression):
    """Where a run's value goes: compiled as a placeholder, filled by `Prepared.objects(name=...)`
    with the value prepared for the database as `output_field` prepares it."""

    def __init__(self, name: str, output_field: Field) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [_Marker(self.name, self.output_field)]


FUNCTION_PREFIX = "clao_q_"
# Prepared queries with a function of their own, by name.
FUNCTIONS: dict[str, "Prepared"] = {}
# Database alias -> the names of the functions that exist there (looked up per connection).
_INSTALLED: dict[str, frozenset[str]] = {}


@dataclass(frozen=True)
class _Function:
    """A compiled query as a PostgreSQL function: its versioned name, its body, the call."""

    name: str
    args: tuple[tuple[str, Field], ...]
    # The arguments as CREATE FUNCTION declares them ("p_worker bigint, ...").
    signature: str
    body: str
    call_sql: str

    def bind(self, values: dict, connection) -> list:
        return [
            field.get_db_prep_value(values[n], connection, prepared=False) for n, field in self.args
        ]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    names: frozenset[str]
    # The compiler that made the SQL: it knows the columns' conversions (values()).
    compiler: SQLCompiler
    function: _Function | None = None

    def statement(self, values: dict, connection) -> tuple[str, list]:
        """The function's call where it exists, else the SQL, with this run's values."""
        if self.function and self.function.name in _INSTALLED.get(connection.alias, ()):
            return self.function.call_sql, self.function.bind(values, connection)
        return self.sql, self.bind(values, connection)

    def bind(self, values: dict, connection) -> list:
        if set(values) != self.names:
            raise TypeError(f"the slots are {sorted(self.names)}, not {sorted(values)}")
        return [
            p.field.get_db_prep_value(values[p.name], connection, prepared=False)
            if isinstance(p, _Marker)
            else p
            for p in self.params
        ]


@dataclass(frozen=True)
class _Making:
    """How a compiled queryset's rows become instances: Django's ModelIterable, with what it
    works out on every run (field names, converters, related populators) worked out once."""

    compiler: SQLCompiler
    converters: dict
    from_db: Callable
    init_list: tuple[str, ...]
    start: int
    end: int
    populators: tuple
    annotations: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, queryset: QuerySet, compiler: SQLCompiler, alias: str) -> "_Making":
        select, klass_info = compiler.select, compiler.klass_info
        fetch_mode = queryset._fetch_mode
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        return cls(
            compiler=compiler,
            converters=compiler.get_converters([s[0] for s in select[: compiler.col_count]]),
            from_db=_get_from_db(klass_info["model"], fetch_mode),
            init_list=tuple(f[0].target.attname for f in select[start:end]),
            start=start,
            end=end,
            populators=tuple(get_related_populators(klass_info, select, alias, fetch_mode)),
            annotations=tuple((compiler.annotation_col_map or {}).items()),
        )

    def instances(self, rows: list, alias: str) -> list:
        if self.compiler.has_extra_select:
            rows = [row[: self.compiler.col_count] for row in rows]
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        made = []
        for row in rows:
            obj = self.from_db(alias, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            made.append(obj)
        return made


class Prepared:
    def __init__(self, build: Callable[[], QuerySet], function: str | None = None) -> None:
        self.build = build
        self.function = function
        self._queryset: QuerySet | None = None
        self._compiled: dict[str, _Compiled] = {}
        self._making: dict[str, _Making] = {}
        if function is not None:
            if function in FUNCTIONS:
                raise ValueError(f"two prepared queries named {function!r}")
            FUNCTIONS[function] = self

    def queryset(self) -> QuerySet:
        if self._queryset is None:
            self._queryset = self.build()
        return self._queryset

    def compiled(self, alias: str) -> _Compiled:
        if alias not in self._compiled:
            compiler = self.queryset().query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            names = frozenset(p.name for p in params if isinstance(p, _Marker))
            function = None
            if self.function is not None and connections[alias].vendor == "postgresql":
                function = _as_function(self.function, sql, params, compiler, alias)
            self._compiled[alias] = _Compiled(sql, tuple(params), names, compiler, function)
        return self._compiled[alias]

    def objects(self, **values) -> list:
        """The queryset's rows as model instances, as iterating it makes them (its columns'
        conversions, annotations as attributes, select_related() objects), read from where the
        router says now."""
        queryset = self.queryset()
        alias = router.db_for_read(queryset.model)
        compiled = self.compiled(alias)
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(*compiled.statement(values, connection))
            rows = cursor.fetchall()
        making = self._making.get(alias)
        if making is None:
            making = self._making[alias] = _Making.of(queryset, compiled.compiler, alias)
        return making.instances(rows, alias)

    def values(self, **values) -> list[tuple]:
        """The rows of a values_list() queryset as it gives them (tuples, each column converted
        as the ORM converts it): no model instance for each of hundreds of rows."""
        alias = router.db_for_read(self.queryset().model)
        compiled = self.compiled(alias)
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(*compiled.statement(values, connection))
            rows = cursor.fetchall()
        compiler = compiled.compiler
        if compiler.has_extra_select:
            rows = [row[: compiler.col_count] for row in rows]
        return list(compiler.results_iter(results=[rows], tuple_expected=True))


@dataclass(frozen=True)
class _CompiledInsert(_Compiled):
    returning: tuple[Field, ...] = ()
    converters: dict = dataclasses.field(default_factory=dict)


class PreparedInsert:
    """A model's one-row INSERT ... RETURNING, compiled once per database and set of columns
    left to their database default, as Model.save() would write it.

    save() builds and compiles the INSERT on every call (about 1 ms of CPU for a registration,
    more than the database takes to store it). Here every column's value is a `Slot`, filled at
    each run as save() prepares it; `computed` names the columns the INSERT itself computes
    (expressions that may hold slots of their own, e.g. a subquery on a looked-up number). The
    instance gets back every column as stored (RETURNING), converted as the ORM converts it.
    """

    def __init__(self, model, computed: Callable[[], dict[str, Expression]] = dict) -> None:
        self.model = model
        self.build_computed = computed
        self._compiled: dict[tuple[str, frozenset[str]], _CompiledInsert] = {}

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """The columns an INSERT names, as save() names them."""
        meta = self.model._meta
        return tuple(f for f in meta.local_concrete_fields if not f.generated and not f.primary_key)

    @cached_property
    def computed(self) -> dict[str, Expression]:
        return self.build_computed()

    def _compile(self, alias: str, defaults: frozenset[str]) -> _CompiledInsert:
        meta = self.model._meta
        template = self.model()
        for field in self.fields:
            if field.attname in self.computed:
                value = self.computed[field.attname]
            elif field.attname in defaults:
                value = DatabaseDefault(field.db_default, output_field=field)
            else:
                value = Slot(field.attname, field)
            setattr(template, field.attname, value)
        # Every column back as stored (a decimal rounded to its places, a computed column's
        # value), not only save()'s: the instance is then what a fresh read would give.
        returning = list(meta.db_returning_fields)
        returning += [f for f in self.fields if f not in returning and f.attname not in defaults]
        query = InsertQuery(self.model)
        query.insert_values(self.fields, [template])
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = returning
        ((sql, params),) = compiler.as_sql()
        names = frozenset(p.name for p in params if isinstance(p, _Marker))
        converters = compiler.get_converters([f.get_col(meta.db_table) for f in returning])
        return _CompiledInsert(
            sql, tuple(params), names, compiler, returning=tuple(returning), converters=converters
        )

    def insert(self, obj, using: str, **values) -> None:
        """Inserts `obj` (a new instance) on `using`; `values` fill the computed columns' slots."""
        defaults = frozenset(
            f.attname for f in self.fields if isinstance(getattr(obj, f.attname), DatabaseDefault)
        )
        key = (using, defaults)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using, defaults)
        for field in self.fields:
            if field.attname not in defaults and field.attname not in self.computed:
                values[field.attname] = field.pre_save(obj, add=True)
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.bind(values, connection))
            rows = [cursor.fetchone()]
        if compiled.converters:
            rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
        for value, field in zip(rows[0], compiled.returning, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = using


_PLACEHOLDER = re.compile(r"%(s|%)")


def _as_function(name: str, sql: str, params, compiler: SQLCompiler, alias: str) -> _Function:
    """The compiled SQL as the body of a function: each slot an argument (in the order of first
    appearance), each constant parameter an SQL literal."""
    connection = connections[alias]
    args: dict[str, Field] = {}
    for param in params:
        if isinstance(param, _Marker):
            args.setdefault(param.name, param.field)
    values = iter(params)

    def replace(match: re.Match) -> str:
        if match.group(1) == "%":
            return "%"
        param = next(values)
        if isinstance(param, _Marker):
            return f"p_{param.name}"
        return _literal(param)

    body = _PLACEHOLDER.sub(replace, sql)
    signature = ", ".join(f"p_{n} {f.db_type(connection)}" for n, f in args.items())
    columns = [expression.output_field.db_type(connection) for expression, *_ in compiler.select]
    digest = hashlib.sha256(f"{signature}\n{columns}\n{body}".encode()).hexdigest()[:12]
    versioned = f"{FUNCTION_PREFIX}{name}_{digest}"
    # Its name is ours (the prepared query's, a digest); the values are parameters.
    call_sql = f"SELECT * FROM {versioned}({', '.join(['%s'] * len(args))})"  # noqa: S608
    return _Function(versioned, tuple(args.items()), signature, body, call_sql)


def _literal(value) -> str:
    # psycopg's own quoting, as its client-side binding would send the value; no round trip.
    return psycopg_sql.Literal(value).as_string(None)


def _create_statement(prepared: Prepared, function: _Function, connection) -> str:
    """CREATE FUNCTION for one prepared query: the result's column types as PostgreSQL names
    them for the query itself (read from a run that returns no row)."""
    compiled = prepared.compiled(connection.alias)
    nothing = [None if isinstance(p, _Marker) else p for p in compiled.params]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({compiled.sql}) AS q LIMIT 0", nothing)  # noqa: S608
        oids = [column.type_code for column in cursor.description]
        cursor.execute(
            "SELECT format_type(o, NULL) FROM unnest(%s::oid[]) WITH ORDINALITY AS t(o, n) "
            "ORDER BY n",
            [oids],
        )
        types = [row[0] for row in cursor.fetchall()]
    result = ", ".join(f"c{i} {t}" for i, t in enumerate(types))
    # Column names of the result are positional (c0, c1...): the rows are read by position.
    return (
        f"CREATE FUNCTION {function.name}({function.signature}) RETURNS TABLE({result})\n"
        "LANGUAGE plpgsql STABLE\n"
        "SET plan_cache_mode = force_generic_plan\n"
        f"AS $clao$\n#variable_conflict use_column\nBEGIN\nRETURN QUERY {function.body};\n"
        "END\n$clao$"
    )


def installed_functions(connection) -> frozenset[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace "
            "AND starts_with(proname, %s)",
            [FUNCTION_PREFIX],
        )
        return frozenset(row[0] for row in cursor.fetchall())


def install_functions(using: str = "default", **kwargs) -> list[str]:
    """After `migrate` on PostgreSQL: each prepared query's function in its current version
    (created if missing; earlier versions are left to the processes that still call them)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    # Prepared queries are defined beside their users, views among them: the URLconf imports
    # them all.
    get_resolver().url_patterns  # noqa: B018
    present = installed_functions(connection)
    created = []
    for prepared in FUNCTIONS.values():
        function = prepared.compiled(using).function
        if function.name not in present:
            with connection.cursor() as cursor:
                cursor.execute(_create_statement(prepared, function, connection))
            created.append(function.name)
    _INSTALLED[using] = present | frozenset(created)
    return created


def _look_up_functions(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        _INSTALLED[connection.alias] = installed_functions(connection)


connection_created.connect(_look_up_functions, dispatch_uid="clao.prepared.functions")
