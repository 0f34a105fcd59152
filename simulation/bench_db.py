"""``python -m simulation.bench_db``: create the PostgreSQL database ``DATABASE_URL`` names, if missing.

Used by ``make bench`` before ``migrate``, so benchmarks run against a real PostgreSQL without a
manual ``createdb``. Does nothing for SQLite."""

from __future__ import annotations

import os
import sys

import environ
import psycopg

from simulation import queries


def ensure_database(url: str) -> str:
    """Create the database of a ``postgres://`` URL unless it exists; return what was done."""
    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        return "not PostgreSQL: nothing to create"
    name = config["NAME"]
    params = {"host": config.get("HOST") or "127.0.0.1", "port": config.get("PORT") or 5432,
              "user": config.get("USER") or "postgres", "password": config.get("PASSWORD") or None, "dbname": "postgres"}  # fmt: skip
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as conn:
        if queries.database_exists(conn, name=name):
            return f"database {name} exists"
        queries.create_database(conn, name=name)
        return f"database {name} created"


if __name__ == "__main__":
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit("DATABASE_URL is not set")
    print(ensure_database(url), file=sys.stderr)
