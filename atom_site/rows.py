"""Reads on hot paths as plain SQL: whole rows of joined models, made into instances as the ORM
makes them.

Compiling a `select_related` query cost Django far more than running it, on every API call
that reads a key or a skill (docs/decisions.md, "API keys"). A `JoinedRead` writes its
`SELECT` once per database, and turns a row into one instance per model with the same
converters the ORM applies and `Model.from_db`, so the instances are the ORM's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import Model

Parts = Sequence[tuple[type[Model], str]]


class JoinedRead:
    """A read whose SQL `build(connection)` describes: the (model, alias) parts whose every
    concrete column is selected, in order, and the `FROM … JOIN … WHERE …` tail naming the same
    aliases. Compiled once per database."""

    def __init__(self, build: Callable[[Any], tuple[Parts, str]]) -> None:
        self.build = build
        self._compiled: dict[str, _Compiled] = {}

    def first(self, params: Sequence[Any], *, using: str) -> list[Model] | None:
        """The first row's instances, one per part; None when no row matches."""
        connection = connections[using]
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = _Compiled(connection, *self.build(connection))
        return compiled.first(connection, params)


class _Compiled:
    def __init__(self, connection: Any, parts: Parts, tail: str) -> None:
        quote = connection.ops.quote_name
        self.parts: list[tuple[type[Model], list[str], list]] = []
        selected = []
        for model, alias in parts:
            fields = model._meta.concrete_fields
            converters = []
            for field in fields:
                column = field.get_col(alias)
                backend = connection.ops.get_db_converters(column)
                converters.append((backend + field.get_db_converters(connection), column))
                selected.append(f"{alias}.{quote(field.column)}")
            self.parts.append((model, [field.attname for field in fields], converters))
        self.sql = f"SELECT {', '.join(selected)} {tail}"

    def first(self, connection: Any, params: Sequence[Any]) -> list[Model] | None:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        instances = []
        start = 0
        for model, attnames, converters in self.parts:
            values = list(row[start : start + len(attnames)])
            start += len(attnames)
            for index, (found, column) in enumerate(converters):
                for converter in found:
                    values[index] = converter(values[index], column, connection)
            instances.append(model.from_db(connection.alias, attnames, values))
        return instances
