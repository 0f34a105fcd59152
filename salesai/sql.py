"""Plain SQL for the few hot paths where compiling an ORM queryset costs more than the query.

The same SQL text runs on PostgreSQL and SQLite (≥ 3.38 for ``->>``); these helpers bridge what the
ORM would otherwise do: datetimes go in as the backend stores them and come back timezone-aware.
Statements live in each app's ``queries`` module and take named parameters (``%(account_id)s``, a
dict), so nobody counts positions by hand."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from django.db import connection
from django.utils.dateparse import parse_datetime

Params = Sequence | Mapping[str, object]


def rows(sql: str, params: Params = ()) -> list[tuple]:
    """Run one SELECT and return all its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def ping() -> bool:
    """One round trip to the database (``/healthz``)."""
    return rows("SELECT 1") == [(1,)]


def execute(sql: str, params: Params = ()) -> int:
    """Run one UPDATE/DELETE; return the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def for_update(*, of: str = "", skip_locked: bool = False) -> str:
    """The row-lock clause for this backend (empty on SQLite, which locks the whole database instead)."""
    if not connection.features.has_select_for_update:
        return ""
    clause = f" FOR UPDATE OF {of}" if of else " FOR UPDATE"
    return clause + " SKIP LOCKED" if skip_locked and connection.features.has_select_for_update_skip_locked else clause


def json_value(value):
    """A JSON column or expression read by plain SQL: text on SQLite (and for jsonb, as Django loads it
    on PostgreSQL), already decoded for a ``json`` result."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def param(value: dt.datetime | None) -> object:
    """A datetime as the database stores it (SQLite: naive UTC text; PostgreSQL: as is)."""
    return connection.ops.adapt_datetimefield_value(value)


def date_param(value: dt.date) -> object:
    return connection.ops.adapt_datefield_value(value)


def aware(value) -> dt.datetime | None:
    """A datetime read by plain SQL: SQLite gives naive UTC, or text from an aggregate."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def to_date(value) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def to_decimal(value, places: str = "0.01") -> Decimal:
    return Decimal("0") if value is None else Decimal(str(value)).quantize(Decimal(places))


def named_list(name: str, values: Iterable[object]) -> tuple[str, dict[str, object]]:
    """Placeholders and named parameters for ``IN (...)`` over values known in code, e.g. enum members
    (``kind IN (%(kind_0)s, %(kind_1)s)``): values travel as parameters, never as SQL text."""
    params = {f"{name}_{i}": value for i, value in enumerate(values)}
    if not params:
        raise ValueError(f"named_list({name!r}) needs at least one value")
    return ", ".join(f"%({key})s" for key in params), params


def like_contains(text: str) -> str:
    """A case-folded LIKE pattern for ``text`` anywhere (use with ``LOWER(col) LIKE %s ESCAPE '\\'``)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def columns(model, alias: str = "") -> str:
    """The model's columns spelled out, never ``*``: a column a migration adds must not change what a
    statement returns (and ``*`` breaks prepared statements, should a deployment turn them on)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{field.column}" for field in model._meta.concrete_fields)
