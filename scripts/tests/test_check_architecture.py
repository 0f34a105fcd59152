"""The architecture check catches each kind of violation, on small fixture trees built like ours (the
same packages and the real import contracts, copied from this project's pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scripts import check_architecture
from scripts.check_architecture import looks_like_sql

REPO = Path(__file__).resolve().parents[2]
PACKAGES = check_architecture.app_packages(REPO)

# allowed by DESIGN.md §2: every edge of this tree points down
CLEAN = {
    "salesai/clock.py": "import datetime\n\n\ndef now():\n    return datetime.datetime.now()\n",
    "salesai/sql.py": 'def ping(cursor):\n    cursor.execute("SELECT 1")\n',
    "audit/services.py": "from salesai import clock\n",
    "accounts/models.py": "from salesai import clock\n",
    "trust/queries.py": 'STATEMENT = "SELECT kind, success FROM trust_outcome WHERE domain = %(domain)s"\n',
    "trust/services.py": "from audit import services\nfrom trust import queries\n",
    "signals/services.py": "from accounts import models\nfrom audit import services\n",
    "recommendations/queries/picture.py": 'SUMMARY = f"SELECT {1} FROM accounts_account"\n',
    "recommendations/composer.py": "from accounts import models\nfrom signals import services\nfrom trust import services\n",
    "simulation/driver.py": "from recommendations import composer\nfrom signals import services\n",
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    (root / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    for package in PACKAGES:
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if str(parent) != "." and not (root / parent / "__init__.py").exists():
                (root / parent / "__init__.py").write_text("")
        path.write_text(textwrap.dedent(text))
    return root


def _check(root: Path) -> tuple[int, str]:
    """The check as `make lint` runs it, in its own process (the fixture packages shadow ours there)."""
    done = subprocess.run(
        [sys.executable, "-m", "scripts.check_architecture", "--root", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_tree_that_keeps_the_rules_passes(tmp_path):
    code, output = _check(_tree(tmp_path, CLEAN))
    assert code == 0, output
    assert "0 finding(s)" in output


@pytest.mark.parametrize(
    ("back_import", "is_cycle"),
    [
        ("def polish():\n    from recommendations import drafts\n", True),  # inside a function counts
        ("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from recommendations import drafts\n", False),
    ],
)
def test_an_import_cycle_is_found_even_through_an_import_inside_a_function(tmp_path, back_import, is_cycle):
    files = {**CLEAN, "recommendations/drafts.py": "from recommendations import tasks\n"}
    code, output = _check(_tree(tmp_path, files | {"recommendations/tasks.py": back_import}))
    assert code == (1 if is_cycle else 0), output
    assert ("No cycles are allowed in recommendations" in output) is is_cycle


@pytest.mark.parametrize(
    ("module", "imports", "contract"),
    [
        ("trust/services.py", "recommendations", "Rooms: an app imports only the rooms below it"),
        ("accounts/models.py", "signals", "Rooms: an app imports only the rooms below it"),
        ("audit/services.py", "accounts", "Rooms: an app imports only the rooms below it"),
        ("salesai/clock.py", "audit", "Rooms: an app imports only the rooms below it"),
        ("trust/services.py", "accounts", "Rooms: an app imports only the rooms below it"),
        ("signals/services.py", "trust", "signals imports accounts, never trust"),
        ("accounts/models.py", "audit", "accounts imports no other app of ours"),
    ],
)
def test_an_import_the_rooms_do_not_allow_is_found(tmp_path, module, imports, contract):
    files = {**CLEAN, module: CLEAN[module] + f"\n\ndef later():\n    import {imports}.models\n"}
    code, output = _check(_tree(tmp_path, files | {f"{imports}/models.py": ""}))
    assert code == 1
    assert f"{contract}" in output
    assert f"{module.removesuffix('.py').replace('/', '.')} -> {imports}.models" in output


def test_tests_may_use_any_apps_factories(tmp_path):
    files = {**CLEAN, "trust/tests/test_policies.py": "from recommendations import composer\n"}
    code, output = _check(_tree(tmp_path, files))
    assert code == 0, output


def test_sql_outside_a_queries_module_is_found_with_its_line(tmp_path):
    files = {
        **CLEAN,
        "signals/services.py": '''\
            """Services. The docstring may quote SQL: SELECT id FROM signals_signal."""


            def store(cursor, table):
                cursor.execute(f"INSERT INTO {table} (kind) VALUES (%(kind)s)", {"kind": "page_view"})
        ''',
    }
    code, output = _check(_tree(tmp_path, files))
    assert code == 1
    assert "signals/services.py:5: SQL outside a queries module: 'INSERT INTO {} (kind) VALUES" in output


def test_a_module_over_600_lines_is_found(tmp_path):
    files = {**CLEAN, "signals/inbound.py": "x = 1\n" * 601, "signals/segment.py": "x = 1\n" * 600}
    code, output = _check(_tree(tmp_path, files))
    assert code == 1
    assert "signals/inbound.py:1: 601 lines: split it by job (at most 600)" in output
    assert "signals/segment.py" not in output


def test_tests_and_migrations_may_be_long_and_hold_sql(tmp_path):
    long_sql = 'Q = "DELETE FROM signals_signal"\n' + "x = 1\n" * 700
    root = _tree(
        tmp_path, {**CLEAN, "signals/tests/test_store.py": long_sql, "signals/migrations/0002_backfill.py": long_sql}
    )
    assert check_architecture.check_sizes(root, PACKAGES) == []
    assert check_architecture.check_sql(root, PACKAGES) == []


def test_sql_homes_are_queries_modules_packages_and_the_sql_helper(tmp_path):
    statement = 'Q = "UPDATE trust_trustpolicy SET mode = %(mode)s"\n'
    root = _tree(
        tmp_path,
        {
            "trust/queries.py": statement,
            "recommendations/queries/picture.py": statement,
            "salesai/sql.py": statement,
            "salesai/health.py": statement,
        },
    )
    assert [(f.path, f.line) for f in check_architecture.check_sql(root, PACKAGES)] == [("salesai/health.py", 1)]


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1",
        "  (SELECT id FROM accounts_account WHERE domain = %(domain)s)",
        "EXISTS (SELECT 1 FROM trust_trustswitch WHERE singleton AND kill_switch)",
        "SELECT {} FROM {} WHERE domain = %s",  # an f-string, as the check reads it
        "INSERT INTO signals_signal (kind) VALUES (%s)",
        "UPDATE accounts_accountpicture SET features = %s WHERE id = %s",
        "DELETE FROM signals_signal WHERE id = %s",
        "WITH claim AS (INSERT INTO signals_webhookclaim (id) VALUES (%s) RETURNING id) SELECT id FROM claim",
        "CREATE DATABASE {}",
        "DROP TABLE IF EXISTS bench",
        "CREATE UNIQUE INDEX signal_once ON signals_signal (source_id, external_id)",
        "TRUNCATE signals_signal",
    ],
)
def test_statements_look_like_sql(text):
    assert looks_like_sql(text)


@pytest.mark.parametrize(
    "text",
    [
        "Select the contact from the list",
        "select the contact from the list",
        "minimal DRF view: parse + one INSERT",
        "Needs review: the daily cap is reached; UPDATE the policy to raise it",
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "Withdrawn: the reply came from the account WITH the renewal",
        "DELETE",
        "recommendation.created",
        "Create table of contents",
    ],
)
def test_prose_and_settings_do_not_look_like_sql(text):
    assert not looks_like_sql(text)


def test_the_project_itself_keeps_the_size_and_sql_rules():
    rooms = ["salesai", "audit", "accounts", "trust", "signals", "recommendations", "simulation"]
    assert check_architecture.check_sizes(REPO, rooms) == []
    assert check_architecture.check_sql(REPO, rooms) == []
