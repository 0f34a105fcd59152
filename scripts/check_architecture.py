"""The house's architecture rules, checked by ``make lint`` (and so by CI):

1. Imports: the contracts under ``[tool.importlinter]`` in ``pyproject.toml`` (the rooms of DESIGN.md
   §2, ``accounts`` on the ground floor, no import cycles; imports inside functions count), checked by
   import-linter.
2. Size: no module of the apps over 600 lines (migrations and tests aside).
3. SQL: SQL statements only in ``queries`` modules (``queries.py`` or a ``queries/`` package) and
   ``salesai/sql.py``.

Usage: ``python -m scripts.check_architecture [--root DIR]``; exits 1 and lists each finding.

The SQL rule reads string literals (f-strings with their placeholders as ``{}``), not docstrings, and
takes a literal for a statement only by its shape, written in capitals as the house writes SQL: it
starts with ``SELECT`` or ``WITH name AS (``, or holds ``SELECT … FROM``, ``INSERT INTO``,
``UPDATE name SET``, ``DELETE FROM``, ``CREATE|DROP|ALTER TABLE|INDEX|…`` or starts with ``TRUNCATE``.
Prose ("select the contact from the list", "one INSERT") and connection settings (SQLite's
``PRAGMA``) are not statements.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from importlinter import configuration
from importlinter.application import use_cases

MAX_LINES = 600
SQL_MODULE = Path("salesai", "sql.py")

_STATEMENT = re.compile(
    r"""
      ^\s*\(?\s*SELECT\s
    | ^\s*WITH\s+(RECURSIVE\s+)?\w+\s*(\([^)]*\)\s*)?AS\s*\(
    | \bSELECT\s.+?\sFROM\s
    | \bINSERT\s+INTO\s
    | \bUPDATE\s+\S+\s+SET\s
    | \bDELETE\s+FROM\s
    | \b(CREATE|DROP|ALTER)\s+(TEMPORARY\s+|UNIQUE\s+|MATERIALIZED\s+)?
         (TABLE|DATABASE|INDEX|VIEW|SCHEMA|EXTENSION|SEQUENCE|TRIGGER|FUNCTION)\b
    | ^\s*TRUNCATE\s
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def app_packages(root: Path) -> list[str]:
    """The apps, as import-linter knows them: ``root_packages`` of ``[tool.importlinter]``."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    return list(config["tool"]["importlinter"]["root_packages"])


def is_exempt(relative: Path) -> bool:
    """Migrations and tests are outside the size and SQL rules."""
    parts = relative.parts
    return (
        "migrations" in parts or "tests" in parts or relative.name.startswith("test_") or relative.name == "conftest.py"
    )


def is_sql_home(relative: Path) -> bool:
    return relative == SQL_MODULE or relative.stem == "queries" or "queries" in relative.parts[:-1]


def app_modules(root: Path, packages: list[str]) -> Iterator[Path]:
    """Every module of the apps, relative to ``root``, that the rules apply to."""
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if not is_exempt(relative):
                yield relative


def looks_like_sql(text: str) -> bool:
    return bool(_STATEMENT.search(text))


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def string_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal but docstrings; an f-string is one literal, ``{}`` for each
    placeholder."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                skip.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) else "{}")
            yield node.lineno, "".join(str(part) for part in parts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def check_sizes(root: Path, packages: list[str]) -> list[Finding]:
    findings = []
    for relative in app_modules(root, packages):
        lines = len((root / relative).read_text().splitlines())
        if lines > MAX_LINES:
            findings.append(Finding(str(relative), 1, f"{lines} lines: split it by job (at most {MAX_LINES})"))
    return findings


def check_sql(root: Path, packages: list[str]) -> list[Finding]:
    findings = []
    for relative in app_modules(root, packages):
        if is_sql_home(relative):
            continue
        for line, text in string_literals((root / relative).read_text()):
            if looks_like_sql(text):
                first = " ".join(text.split())[:60]
                findings.append(Finding(str(relative), line, f"SQL outside a queries module: {first!r}"))
    return findings


def check_imports(root: Path) -> bool:
    """import-linter's contracts from ``root``'s pyproject.toml, on the packages found under ``root``."""
    configuration.configure()
    sys.path.insert(0, str(root))  # the packages under ``root``, before any installed copy
    return use_cases.lint_imports(config_filename=str(root / "pyproject.toml"), cache_dir=None, no_logo=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the project's folder (default: here)")
    root = parser.parse_args(argv).root.resolve()
    packages = app_packages(root)
    imports_kept = check_imports(root)
    findings = sorted(check_sizes(root, packages) + check_sql(root, packages))
    for finding in findings:
        print(finding)
    print(f"Module sizes and SQL homes: {len(findings)} finding(s) in {', '.join(packages)}.")
    return 0 if imports_kept and not findings else 1


if __name__ == "__main__":
    sys.exit(main())
