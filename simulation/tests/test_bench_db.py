"""``make bench`` creates its PostgreSQL database when missing, and leaves an existing one alone."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from simulation import queries
from simulation.bench_db import ensure_database


@pytest.fixture
def server(require_postgres) -> str:
    """The test run's PostgreSQL server, as a URL without a database name."""
    settings = connection.settings_dict
    return f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"


def _drop(server: str, name: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_a_sqlite_url_needs_no_database():
    assert ensure_database("sqlite:////tmp/salesai-bench.sqlite3") == "not PostgreSQL: nothing to create"


def test_creates_the_database_once_then_finds_it(server):
    name = f"salesai_bench_test_{uuid.uuid4().hex[:8]}"
    try:
        assert ensure_database(f"{server}/{name}") == f"database {name} created"
        assert ensure_database(f"{server}/{name}") == f"database {name} exists"
    finally:
        _drop(server, name)


@pytest.mark.parametrize("name", ['bench"; DROP DATABASE postgres; --', "Bench Mixed Case"])
def test_a_hostile_or_odd_name_is_one_quoted_identifier(server, name):
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            assert not queries.database_exists(conn, name=name)
            queries.create_database(conn, name=name)
            assert queries.database_exists(conn, name=name)
            assert queries.database_exists(conn, name="postgres")
    finally:
        _drop(server, name)
