"""Every hand-written SQL statement of the signals app, each earned by measurement.

Two statements, both on the ingestion hot path, each with a parity test against its ORM equivalent
(``signals/tests/test_queries.py``, run on SQLite and on PostgreSQL):

- :func:`insert_signals`, the one bulk way to store signals (``record_signal`` is the ORM way for
  one): ``INSERT … ON CONFLICT (source, external_id) DO NOTHING RETURNING``, with who a signal is
  about looked up inside the statement where the caller asks (a Segment call's person by userId or
  anonymousId, a group's account, an account by domain), and on PostgreSQL the ``webhook-id`` claim
  of a signed delivery in the same statement.
- :func:`claim_delivery`, the ``webhook-id`` claim alone, for deliveries that write more than their
  signals (a new contact) and so claim first, inside their transaction.

Why by hand: a single event is one statement, not a look-up round trip per identity plus a
``BEGIN``/``COMMIT`` pair; and PostgreSQL gets many rows as one array per column (``unnest``), a
statement whose text and parameter count do not grow with the rows, where a multi-row ``VALUES`` is
parsed again on every call. Parameters are named; no value, enum or not, is written into the SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from django.db import connections, transaction

from accounts.models import Account, Contact
from signals.models import AnonymousIdentity, GroupIdentity, Signal, WebhookDelivery

#: The most rows one statement inserts; ``insert_signals`` sends more in several statements.
CHUNK = 500


@dataclass(frozen=True)
class SignalDraft:
    """One signal to store: what the caller knows, and what the statement should look up.

    A draft whose caller resolved who it is about carries ``account_id``/``contact_id`` and asks for
    no look-up. Otherwise the statement fills them as ``signals.identity.Resolver.resolve`` would:
    with ``find_person``, the contact whose userId is ``user_id``, else the one ``anonymous_id`` is
    tied to, and that contact's account; failing an account, the account this source's
    ``find_group_id`` names, then the account of ``find_account_domain``."""

    kind: str
    external_id: str
    occurred_at: datetime
    account_id: int | None = None
    contact_id: int | None = None
    properties: dict = field(default_factory=dict)
    name: str = ""
    user_id: str = ""
    anonymous_id: str = ""
    message_id: str = ""
    is_bot: bool = False
    find_person: bool = False
    find_group_id: str = ""
    find_account_domain: str = ""


@dataclass(frozen=True)
class StoredSignal:
    """A row ``insert_signals`` inserted (duplicates are not returned)."""

    id: int
    account_id: int | None
    external_id: str


@dataclass(frozen=True)
class InsertOutcome:
    """What ``insert_signals`` did: the new rows, and whether it claimed the delivery it was given
    (always True without one). A delivery claimed before stores nothing again."""

    stored: list[StoredSignal]
    claimed: bool = True


@dataclass(frozen=True)
class DeliveryClaim:
    """A signed delivery's ``webhook-id``, claimed once per source."""

    webhook_id: str
    received_at: datetime


_SIGNAL = Signal._meta.db_table
_CONTACT = Contact._meta.db_table
_ACCOUNT = Account._meta.db_table
_ANONYMOUS = AnonymousIdentity._meta.db_table
_GROUP = GroupIdentity._meta.db_table
_DELIVERY = WebhookDelivery._meta.db_table
_OCCURRED_AT = Signal._meta.get_field("occurred_at")
_PROPERTIES = Signal._meta.get_field("properties")
_RECEIVED_AT = Signal._meta.get_field("received_at")
_CLAIMED_AT = WebhookDelivery._meta.get_field("received_at")

# The columns of a draft as the statement reads them (``r.<name>``), with their PostgreSQL array types
# (char columns arrive as text[]: a cast to varchar(n) would truncate). The look-up columns are sent
# only when a draft of the statement asks for that look-up.
_COLUMNS = {
    "kind": "text",
    "name": "text",
    "external_id": "text",
    "account_id": "bigint",
    "contact_id": "bigint",
    "user_id": "text",
    "anonymous_id": "text",
    "occurred_at": "timestamptz",
    "properties": "jsonb",
    "message_id": "text",
    "is_bot": "boolean",
}
_LOOKUP_COLUMNS = {
    "person": ("find_person", "boolean"),
    "group": ("find_group_id", "text"),
    "domain": ("find_account_domain", "text"),
}

_CLAIM = (
    f"INSERT INTO {_DELIVERY} (source_id, webhook_id, received_at) "
    "VALUES (%(source_id)s, %(webhook_id)s, %(received_at)s) "
    "ON CONFLICT (source_id, webhook_id) DO NOTHING RETURNING id"
)


@cache
def _row_columns(lookups: frozenset[str]) -> tuple[str, ...]:
    return (*_COLUMNS, *(_LOOKUP_COLUMNS[name][0] for name in sorted(lookups)))


def _insert_sql(rows: str, *, lookups: frozenset[str] = frozenset(), claimed: bool = False, fence: str = "") -> str:
    """The insert, reading its drafts from ``rows`` (a ``FROM`` item with the alias ``{alias}``), with
    only the look-ups some draft asks for (each costs PostgreSQL planning time on every call). The
    person is looked up once per row (``found_contact_id``, kept from being inlined twice by
    ``fence``); the account from that person, else the group, else the domain. ``WHERE true`` keeps
    SQLite from reading ``ON CONFLICT`` as a join clause."""
    account = ["r.account_id"]
    contact = "r.contact_id"
    found = ""
    if "person" in lookups:
        found = (
            ", CASE WHEN drafts.find_person THEN COALESCE("
            f"(SELECT c.id FROM {_CONTACT} c WHERE drafts.user_id <> '' AND c.user_id = drafts.user_id), "
            f"(SELECT a.contact_id FROM {_ANONYMOUS} a WHERE drafts.anonymous_id <> '' "
            "AND a.anonymous_id = drafts.anonymous_id)) END AS found_contact_id"
        )
        account.append(f"(SELECT c.account_id FROM {_CONTACT} c WHERE c.id = r.found_contact_id)")
        contact = "COALESCE(r.contact_id, r.found_contact_id)"
    if "group" in lookups:
        account.append(
            f"(SELECT g.account_id FROM {_GROUP} g WHERE r.find_group_id <> '' "
            "AND g.source_id = %(source_id)s AND g.group_id = r.find_group_id)"
        )
    if "domain" in lookups:
        account.append(
            f"(SELECT d.id FROM {_ACCOUNT} d WHERE r.find_account_domain <> '' AND d.domain = r.find_account_domain)"
        )
    account_sql = account[0] if len(account) == 1 else f"COALESCE({', '.join(account)})"
    return (
        f"INSERT INTO {_SIGNAL} (source_id, received_at, intent, is_auto_reply, kind, name, external_id, "
        "account_id, contact_id, user_id, anonymous_id, occurred_at, properties, message_id, is_bot) "
        "SELECT %(source_id)s, %(received_at)s, %(intent)s, %(is_auto_reply)s, r.kind, r.name, r.external_id, "
        f"{account_sql}, {contact}, r.user_id, r.anonymous_id, r.occurred_at, r.properties, r.message_id, r.is_bot "
        + (
            f"FROM (SELECT drafts.*{found} FROM {rows.format(alias='drafts')}{fence}) r"
            if found
            else f"FROM {rows.format(alias='r')}"
        )
        + (" CROSS JOIN claim" if claimed else "")
        + " WHERE true ON CONFLICT (source_id, external_id) DO NOTHING RETURNING id, account_id, external_id"
    )


_pg_statements: dict[tuple[frozenset[str], bool, bool], str] = {}


def _pg_sql(lookups: frozenset[str], *, claimed: bool, single: bool = False) -> str:
    """PostgreSQL's statement, built once per variant: many drafts as one array per column
    (``unnest``), one draft as plain parameters (cheaper to plan and to bind than arrays of one).
    With ``claimed`` it claims the delivery and, only if it did, inserts: no row back means the
    delivery was claimed before; a row of NULLs, that it was claimed now but every signal was a
    duplicate."""
    sql = _pg_statements.get((lookups, claimed, single))
    if sql is None:
        columns = _row_columns(lookups)
        types = {**_COLUMNS, **dict(_LOOKUP_COLUMNS.values())}
        if single:
            rows = f"(SELECT {', '.join(f'%({name})s::{types[name]} AS {name}' for name in columns)}) AS {{alias}}"
        else:
            arrays = ", ".join(f"%({name})s::{types[name]}[]" for name in columns)
            rows = f"unnest({arrays}) AS {{alias}} ({', '.join(columns)})"
        insert = _insert_sql(rows, lookups=lookups, claimed=claimed, fence=" OFFSET 0")
        if claimed:
            insert = (
                f"WITH claim AS ({_CLAIM}), stored AS ({insert}) "
                "SELECT stored.id, stored.account_id, stored.external_id FROM claim LEFT JOIN stored ON true"
            )
        sql = _pg_statements[(lookups, claimed, single)] = insert
    return sql


def _portable_sql(count: int, lookups: frozenset[str]) -> str:
    """``count`` rows of ``VALUES`` with one named parameter per row and column (any database)."""
    names = _row_columns(lookups)
    values = ", ".join("(" + ", ".join(f"%({name}_{index})s" for name in names) + ")" for index in range(count))
    columns = ", ".join(f"column{n} AS {name}" for n, name in enumerate(names, start=1))
    return _insert_sql(f"(SELECT {columns} FROM (VALUES {values}) AS v) AS {{alias}}", lookups=lookups)


def _lookups(drafts: Sequence[SignalDraft]) -> frozenset[str]:
    """Which look-ups some draft asks for."""
    wanted = set()
    for draft in drafts:
        if draft.find_person:
            wanted.add("person")
        if draft.find_group_id:
            wanted.add("group")
        if draft.find_account_domain:
            wanted.add("domain")
    return frozenset(wanted)


def _draft_values(draft: SignalDraft, connection) -> dict:
    """A draft's column values as the database takes them (datetimes and JSON adapted per vendor)."""
    return {
        "kind": draft.kind,
        "name": draft.name,
        "external_id": draft.external_id,
        "account_id": draft.account_id,
        "contact_id": draft.contact_id,
        "user_id": draft.user_id,
        "anonymous_id": draft.anonymous_id,
        "occurred_at": _OCCURRED_AT.get_db_prep_save(draft.occurred_at, connection),
        "properties": _PROPERTIES.get_db_prep_save(draft.properties, connection),
        "message_id": draft.message_id,
        "is_bot": draft.is_bot,
        "find_person": draft.find_person,
        "find_group_id": draft.find_group_id,
        "find_account_domain": draft.find_account_domain,
    }


def insert_signals(
    *,
    source_id: int,
    received_at: datetime,
    drafts: Sequence[SignalDraft],
    claim: DeliveryClaim | None = None,
    using: str = "default",
) -> InsertOutcome:
    """Insert ``drafts`` for one source, ``CHUNK`` per statement; a ``(source, external_id)`` stored
    before is skipped by the database. With ``claim`` (at most ``CHUNK`` drafts) the delivery's
    ``webhook-id`` is claimed first and nothing is inserted unless it was new: on PostgreSQL in the
    same statement, elsewhere in one transaction."""
    connection = connections[using]
    base = {
        "source_id": source_id,
        "received_at": _RECEIVED_AT.get_db_prep_save(received_at, connection),
        "intent": "",
        "is_auto_reply": False,
    }
    if claim is not None:
        if not 0 < len(drafts) <= CHUNK:
            raise ValueError(f"A claimed delivery inserts 1 to {CHUNK} signals, in one statement.")
        if connection.vendor != "postgresql":
            with transaction.atomic(using=using):
                if not claim_delivery(source_id=source_id, claim=claim, using=using):
                    return InsertOutcome(stored=[], claimed=False)
                return insert_signals(source_id=source_id, received_at=received_at, drafts=drafts, using=using)
    stored: list[StoredSignal] = []
    claimed = True
    for start in range(0, len(drafts), CHUNK):
        chunk = drafts[start : start + CHUNK]
        lookups = _lookups(chunk)
        names = _row_columns(lookups)
        rows = [_draft_values(d, connection) for d in chunk]
        if connection.vendor == "postgresql":
            single = len(rows) == 1
            params = {**base, **{name: rows[0][name] if single else [row[name] for row in rows] for name in names}}
            if claim is not None:
                params["webhook_id"] = claim.webhook_id
            sql = _pg_sql(lookups, claimed=claim is not None, single=single)
        else:
            params = dict(base)
            for index, row in enumerate(rows):
                params.update({f"{name}_{index}": row[name] for name in names})
            sql = _portable_sql(len(rows), lookups)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        if claim is not None:
            claimed = bool(fetched)
        stored += [
            StoredSignal(pk, account_id, external_id) for pk, account_id, external_id in fetched if pk is not None
        ]
    return InsertOutcome(stored=stored, claimed=claimed)


def claim_delivery(*, source_id: int, claim: DeliveryClaim, using: str = "default") -> bool:
    """Insert the delivery's ``webhook-id`` unless the source sent it before; True when this call did."""
    connection = connections[using]
    params = {
        "source_id": source_id,
        "webhook_id": claim.webhook_id,
        "received_at": _CLAIMED_AT.get_db_prep_save(claim.received_at, connection),
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, params)
        return cursor.fetchone() is not None
