"""Statements on hot paths as plain SQL whose rows are whole models' columns, made into
instances as the ORM makes them: a `SELECT` of joined models, an `UPDATE … RETURNING`.

Compiling a `select_related` query cost Django far more than running it, on every API call
that reads a key or a skill (docs/decisions.md, "API keys"), and a raw query set spent longer
mapping its columns than the database spent on the update. A `ModelRows` writes its statement
once per database, and turns a row into one instance per model with the same converters the
ORM applies and `Model.from_db`, so the instances are the ORM's. `ForeignKeyRead` is the
common case: one model and the row its foreign key points to, found by one field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import Model

from atom_site.statements import Statement

Parts = Sequence[tuple[type[Model], str]]


class ModelRows:
    """A statement that `build(connection)` describes: the (model, alias) parts whose every
    concrete column it returns, in order, and its SQL with `{columns}` where they go (`SELECT
    {columns} FROM … JOIN …` naming the same aliases; `UPDATE t … RETURNING {columns}` with
    the alias "" for unqualified columns). Compiled once per database."""

    def __init__(self, build: Callable[[Any], tuple[Parts, str]]) -> None:
        self.build = build
        self._compiled: dict[str, _Compiled] = {}

    def first(self, params: Sequence[Any], *, using: str) -> list[Model] | None:
        """The first row's instances, one per part; None when no row matches."""
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self._compiled_for(connection).sql, params)
            # To the end: a statement that writes is then finished (on SQLite, its transaction).
            rows = cursor.fetchall()
        return self.instances(rows[0], using=using) if rows else None

    def statement(self, params: Sequence[Any], *, using: str) -> Statement:
        """The statement with `params`, to send with others (`atom_site.statements`)."""
        return Statement(self._compiled_for(connections[using]).sql, list(params))

    def instances(self, row: Sequence[Any], *, using: str) -> list[Model]:
        """One of the statement's rows as instances, one per part."""
        connection = connections[using]
        return self._compiled_for(connection).instances(connection, row)

    def _compiled_for(self, connection: Any) -> _Compiled:
        compiled = self._compiled.get(connection.alias)
        if compiled is None:
            compiled = self._compiled[connection.alias] = _Compiled(
                connection, *self.build(connection)
            )
        return compiled


class _Compiled:
    def __init__(self, connection: Any, parts: Parts, template: str) -> None:
        quote = connection.ops.quote_name
        self.parts: list[tuple[type[Model], list[str], list]] = []
        selected = []
        for model, alias in parts:
            fields = model._meta.concrete_fields
            converters = []
            for field in fields:
                column = field.get_col(alias or model._meta.db_table)
                backend = connection.ops.get_db_converters(column)
                converters.append((backend + field.get_db_converters(connection), column))
                selected.append(f"{alias}.{quote(field.column)}" if alias else quote(field.column))
            self.parts.append((model, [field.attname for field in fields], converters))
        self.sql = template.format(columns=", ".join(selected))

    def instances(self, connection: Any, row: Sequence[Any]) -> list[Model]:
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


class ForeignKeyRead:
    """`model.objects.select_related(through).filter(<where>=value).first()` as one compiled
    statement (`ModelRows`): the instance with its foreign key's row cached, or None. `outer`:
    a row whose key points nowhere is found too (a LEFT JOIN), its relation cached as None."""

    def __init__(
        self, model: type[Model], *, through: str, where: str, outer: bool = False
    ) -> None:
        self.model, self.where, self.outer = model, where, outer
        self.link = model._meta.get_field(through)
        self.rows = ModelRows(self._build)

    def _build(self, connection: Any) -> tuple[Parts, str]:
        quote = connection.ops.quote_name
        target = self.link.related_model
        join = "LEFT JOIN" if self.outer else "INNER JOIN"
        return (
            [(self.model, "a"), (target, "b")],
            f"SELECT {{columns}} FROM {quote(self.model._meta.db_table)} a"
            f" {join} {quote(target._meta.db_table)} b"
            f" ON b.{quote(target._meta.pk.column)} = a.{quote(self.link.column)}"
            f" WHERE a.{quote(self.model._meta.get_field(self.where).column)} = %s",
        )

    def first(self, value: Any, *, using: str) -> Model | None:
        found = self.rows.first([value], using=using)
        if found is None:
            return None
        instance, related = found
        linked = getattr(instance, self.link.attname) is not None
        self.link.set_cached_value(instance, related if linked else None)
        return instance
