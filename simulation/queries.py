"""The simulation's hand-written SQL: creating the benchmark database on a PostgreSQL server.

These run on a plain psycopg connection to the server's ``postgres`` database, before Django can
connect to the one they create: no ORM equivalent exists."""

from __future__ import annotations

import psycopg
from psycopg import sql


def database_exists(conn: psycopg.Connection, *, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}).fetchone() is not None


def create_database(conn: psycopg.Connection, *, name: str) -> None:
    """``CREATE DATABASE`` takes no parameters: the name is quoted as an identifier."""
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
