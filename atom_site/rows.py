"""Reads on hot paths as plain SQL: whole rows of joined models, made into instances as the ORM
makes them.

Compiling a `select_related` query cost Django far more than running it, on every API call
that reads a key or a skill (docs/decisions.md, "API keys"). A `JoinedRead` writes its
`SELECT` once per database, and turns a row into one instance per model with the same
converters the ORM applies and `Model.from_db`, so the instances are the ORM's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Model


class JoinedRead:
    """`SELECT` every concrete column of each (model, alias) of `parts`, in order, then `tail`
    (`FROM … JOIN … WHERE …`, naming the same aliases)."""

    def __init__(self, connection: Any, parts: Sequence[tuple[type[Model], str]], tail: str):
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
        """The first row's instances, one per part; None when no row matches."""
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
