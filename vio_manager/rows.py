"""Hand-written SELECTs for the few reads on the polling hot path (the API token, the deployment a
client polls, its new events). The ORM builds and compiles a statement again on every request, and for a join with
a subquery that costs more than running it (benchmarks/api.py). Here tables and columns come from
the models' metadata, the statement is written once per database, and rows become model instances
with the ORM's own value converters: callers get what a queryset would have given them."""

import hashlib
import weakref

from django.db import connections
from django.db.models.sql import Query


# The names of the statements each driver connection has prepared (it forgets them when it closes).
_PREPARED: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()


class Columns:
    """Some columns of a model (all by default) selected from its table under a short alias."""

    def __init__(self, model, alias: str, fields: tuple[str, ...] = (), exclude: tuple[str, ...] = ()):
        self.model, self.alias = model, alias
        # In the model's order: from_db() fills the columns left out with "deferred" by that order.
        self.fields = [field for field in model._meta.concrete_fields
                       if (not fields or field.name in fields) and field.name not in exclude]
        self.attnames = [field.attname for field in self.fields]
        self.pk_index = next(index for index, field in enumerate(self.fields) if field.primary_key)

    def sql(self, quote) -> str:
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)


class Statement:
    """`render(quote)` gives the SQL (placeholders: %s, and no other %): the columns of each of
    `parts` in order, then any extra values. A row comes back as an instance per part (None where
    its primary key is NULL: an outer join that found nothing) and the extra values."""

    def __init__(self, using: str, parts: list[Columns], render):
        self.using, self.parts = using, parts
        self.sql = render(connections[using].ops.quote_name)
        columns = [field.get_col(field.model._meta.db_table) for part in parts for field in part.fields]
        self.compiler = Query(parts[0].model).get_compiler(using=using)
        self.converters = self.compiler.get_converters(columns)
        self.name = "vio_rows_" + hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def _execute(self, connection, cursor, params: list) -> None:
        if connection.vendor != "postgresql":
            cursor.execute(self.sql, params)  # sqlite3 keeps its own statement cache
            return
        # PostgreSQL plans a statement on every run unless it is prepared, and for these joins the
        # planning costs more than the execution. A prepared statement lives as long as the
        # session (a rollback keeps it); preparing it is connection set-up, like the time zone
        # Django sets, so it goes through the driver's cursor and is not counted as a query.
        # (Query logs show "EXECUTE vio_rows_<hash>(parameters)"; self.sql is the statement.)
        prepared = _PREPARED.setdefault(connection.connection, set())
        if self.name not in prepared:
            placeholders = tuple(f"${index}" for index in range(1, len(params) + 1))
            cursor.cursor.execute(f"PREPARE {self.name} AS {self.sql % placeholders}")
            prepared.add(self.name)
        cursor.execute(f"EXECUTE {self.name}({', '.join(['%s'] * len(params))})", params)

    def fetch(self, params: list) -> tuple[list, list] | None:
        """The first row, or None."""
        connection = connections[self.using]
        with connection.cursor() as cursor:
            self._execute(connection, cursor, params)
            row = cursor.fetchone()
        return None if row is None else self._instances(row)

    def fetch_all(self, params: list) -> list[tuple[list, list]]:
        connection = connections[self.using]
        with connection.cursor() as cursor:
            self._execute(connection, cursor, params)
            return [self._instances(row) for row in cursor.fetchall()]

    def _instances(self, row) -> tuple[list, list]:
        if self.converters:
            row = next(iter(self.compiler.apply_converters([row], self.converters)))
        instances, start = [], 0
        for part in self.parts:
            values = row[start:start + len(part.fields)]
            start += len(part.fields)
            found = values[part.pk_index] is not None
            instances.append(part.model.from_db(self.using, part.attnames, values) if found else None)
        return instances, list(row[start:])
