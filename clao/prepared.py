"""Querysets compiled to SQL once per process, then run many times with new values.

Building a queryset and compiling it to SQL costs the ORM CPU on every request, for SQL that
only its values change: the day list's query (three subqueries, two EXISTS) took 2.5 ms of CPU
to build and compile, six times what running it costs. `Prepared(build)` builds the queryset
once, with a `Slot` wherever a value goes, compiles it once per database alias, and each run
passes the values and gets model instances through `raw()`: the model's column conversions
apply and annotations become attributes, as with the queryset.

For hot read paths whose query shape never depends on the values. The queryset stays the
source of the SQL (nothing is written by hand), and it is read where the router says at each
run (a replica inside `reads_may_lag()`).

This module is infrastructure: it imports Django only.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections, router
from django.db.models import Expression, Field, QuerySet
from django.db.models.query import RawQuerySet


@dataclass(frozen=True)
class _Marker:
    """Stands in the compiled parameters for the value of a slot."""

    name: str
    field: Field


class Slot(Expression):
    """Where a run's value goes: compiled as a placeholder, filled by `Prepared.raw(name=...)`
    with the value prepared for the database as `output_field` prepares it."""

    def __init__(self, name: str, output_field: Field) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [_Marker(self.name, self.output_field)]


class Prepared:
    def __init__(self, build: Callable[[], QuerySet]) -> None:
        self.build = build
        self._queryset: QuerySet | None = None
        # alias -> (sql, parameters with markers, slot names)
        self._compiled: dict[str, tuple[str, tuple, frozenset[str]]] = {}

    def queryset(self) -> QuerySet:
        if self._queryset is None:
            self._queryset = self.build()
        return self._queryset

    def compiled(self, alias: str) -> tuple[str, tuple, frozenset[str]]:
        if alias not in self._compiled:
            sql, params = self.queryset().query.get_compiler(using=alias).as_sql()
            names = frozenset(p.name for p in params if isinstance(p, _Marker))
            self._compiled[alias] = (sql, tuple(params), names)
        return self._compiled[alias]

    def raw(self, **values) -> RawQuerySet:
        """The queryset's rows for these values, read from where the router says now."""
        model = self.queryset().model
        alias = router.db_for_read(model)
        sql, params, names = self.compiled(alias)
        if set(values) != names:
            raise TypeError(f"the slots are {sorted(names)}, not {sorted(values)}")
        connection = connections[alias]
        bound = [
            p.field.get_db_prep_value(values[p.name], connection, prepared=False)
            if isinstance(p, _Marker)
            else p
            for p in params
        ]
        return model._default_manager.raw(sql, bound, using=alias)
