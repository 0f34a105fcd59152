"""Every hand-written SQL statement of the recommendations app, one function each.

Analysis runs on every stored signal, and for the statements here compiling the equivalent ORM
queryset cost more CPU than the database spent answering it; each one earned its place by measurement
(the figures are in the commit history and ``bench/bench_engine.py``). So that they stay easy to read
and to trust:

- parameters are named (``%(account_id)s``), and values the code knows (kinds, statuses, stages) go in
  as parameters, never as literals in the text;
- a statement returns a small frozen dataclass (or model instances, where the caller saves them);
- the text of each statement is built once per process, the same on PostgreSQL and SQLite ≥ 3.38
  (``->>``), apart from the JSON aggregate of :func:`_json_rows`;
- ``tests/test_queries.py`` compares each with its ORM equivalent, on both databases.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db import connection

from accounts.models import Account, AccountPicture, Contact, Contract, Goal, Opportunity
from recommendations.models import PlaybookConfig, Recommendation
from recommendations.playbooks.base import ContactFact, ContractFact, GoalFact
from salesai import sql
from signals.models import Signal

_OPEN = tuple(status.value for status in Recommendation.OPEN_STATUSES)

# --- helpers ------------------------------------------------------------------------------------------


def _in(name: str, count: int) -> str:
    """The placeholders of an IN list: ``%(name_0)s, %(name_1)s, …``."""
    return ", ".join(f"%({name}_{i})s" for i in range(count))


def _bind(name: str, values: Iterable[object]) -> dict[str, object]:
    """The parameters for :func:`_in`'s placeholders."""
    return {f"{name}_{i}": value for i, value in enumerate(values)}


def _json_rows(table: str, columns: str, where: str, order: str) -> str:
    """A scalar subquery: the matching rows as one JSON array of arrays (so several small tables come
    back in one statement)."""
    if connection.vendor == "postgresql":
        return (
            f"(SELECT COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]'::json) "
            f"FROM {table} WHERE {where})"
        )
    return (
        f"(SELECT json_group_array(json_array({columns})) FROM (SELECT * FROM {table} WHERE {where} ORDER BY {order}))"
    )


def _json_list(value) -> list:
    return list(sql.json_value(value) or [])


# --- analysis: settings, the picture's row lock, the outbox marks ----------------------------------------


@dataclass(frozen=True)
class PlaybookSetting:
    code: str
    enabled: bool
    params: dict


def playbook_settings() -> list[PlaybookSetting]:
    """The admin's ``PlaybookConfig`` rows (read on every analysis: a change applies to the next one)."""
    return [
        PlaybookSetting(code=code, enabled=bool(enabled), params=sql.json_value(params) or {})
        for code, enabled, params in sql.rows(f"SELECT code, enabled, params FROM {PlaybookConfig._meta.db_table}")
    ]


def relax_commit_durability() -> None:
    """PostgreSQL: the current transaction's commit does not wait for its WAL flush (see the analysis
    service for why that is safe there, and only there)."""
    if connection.vendor == "postgresql":
        sql.execute("SET LOCAL synchronous_commit TO OFF")


@dataclass(frozen=True)
class LockedPicture:
    """An account's picture row, locked, with its account: what analysis needs besides the signals
    (not the stored features: analysis rewrites them)."""

    account: Account
    version: int
    analyzed_at: dt.datetime | None
    next_check_at: dt.datetime | None


@functools.cache
def _lock_picture_sql(skip_locked: bool) -> str:
    return (
        f"SELECT {sql.columns(Account, 'a')}, p.version AS picture_version, p.analyzed_at AS picture_analyzed_at, "
        f"p.next_check_at AS picture_next_check_at FROM {AccountPicture._meta.db_table} p "
        f"JOIN {Account._meta.db_table} a ON a.id = p.account_id WHERE p.account_id = %(account_id)s"
        f"{sql.for_update(of='p', skip_locked=skip_locked)}"
    )


def lock_picture(*, account_id: int, skip_locked: bool = False) -> LockedPicture | None:
    """The picture of ``account_id`` under a row lock, its account read in the same statement; None when
    it has no picture yet, or (``skip_locked``) another transaction holds it."""
    skip = skip_locked and connection.features.has_select_for_update_skip_locked
    account = next(iter(Account.objects.raw(_lock_picture_sql(skip), {"account_id": account_id})), None)
    if account is None:
        return None
    return LockedPicture(
        account=account,
        version=account.picture_version,
        analyzed_at=sql.aware(account.picture_analyzed_at),
        next_check_at=sql.aware(account.picture_next_check_at),
    )


@dataclass(frozen=True)
class PictureState:
    """What one analysis writes onto the account's picture."""

    features: dict
    engagement_score: float
    intent_score: float
    risk_score: float
    version: int
    analyzed_at: dt.datetime
    next_check_at: dt.datetime | None


def save_picture(*, account_id: int, state: PictureState) -> int:
    """Write ``state`` onto the picture of ``account_id`` (no longer dirty); return the rows changed."""
    return sql.execute(
        f"UPDATE {AccountPicture._meta.db_table} SET features = %(features)s, engagement_score = %(engagement)s, "
        "intent_score = %(intent)s, risk_score = %(risk)s, version = %(version)s, analyzed_at = %(analyzed_at)s, "
        "next_check_at = %(next_check_at)s, dirty_since = NULL WHERE account_id = %(account_id)s",
        {
            "features": connection.ops.adapt_json_value(state.features, None),
            "engagement": state.engagement_score,
            "intent": state.intent_score,
            "risk": state.risk_score,
            "version": state.version,
            "analyzed_at": sql.param(state.analyzed_at),
            "next_check_at": sql.param(state.next_check_at),
            "account_id": account_id,
        },
    )


def unanalysed_signal_ids(*, account_id: int, limit: int) -> list[int]:
    """The ids of the account's signals no analysis covered yet, oldest first, at most ``limit``."""
    statement = (
        f"SELECT id FROM {Signal._meta.db_table} WHERE account_id = %(account_id)s AND analyzed_at IS NULL "
        "ORDER BY id LIMIT %(limit)s"
    )
    return [pk for (pk,) in sql.rows(statement, {"account_id": account_id, "limit": limit})]


def mark_signals_analysed(*, signal_ids: Sequence[int], at: dt.datetime) -> int:
    """Close the outbox for these signals: analysed ``at``. Returns the rows changed."""
    if not signal_ids:
        return 0
    statement = (
        f"UPDATE {Signal._meta.db_table} SET analyzed_at = %(at)s WHERE id IN ({_in('signal', len(signal_ids))})"
    )
    return sql.execute(statement, {"at": sql.param(at), **_bind("signal", signal_ids)})


# --- the composer ------------------------------------------------------------------------------------


def executed_count(*, playbook: str, since: dt.datetime, until: dt.datetime) -> int:
    """How many recommendations of ``playbook`` were executed (last changed) between ``since`` and ``until``."""
    statement = (
        f"SELECT COUNT(*) FROM {Recommendation._meta.db_table} WHERE playbook = %(playbook)s "
        "AND status = %(executed)s AND updated_at >= %(since)s AND updated_at <= %(until)s"
    )
    ((total,),) = sql.rows(
        statement,
        {
            "playbook": playbook,
            "executed": Recommendation.Status.EXECUTED.value,
            "since": sql.param(since),
            "until": sql.param(until),
        },
    )
    return total


@functools.cache
def _open_recommendations_sql() -> str:
    # only what the composer compares (the rest loads on access): the stored findings can be long
    return (
        "SELECT id, account_id, contact_id, action_type, playbook, status, dedupe_key, version, awaiting_polish, "
        "findings -> 0 ->> 'fingerprint' AS fingerprint "
        f"FROM {Recommendation._meta.db_table} WHERE account_id = %(account_id)s "
        f"AND status IN ({_in('open', len(_OPEN))}){sql.for_update()}"
    )


def open_recommendations_for_update(*, account_id: int) -> list[Recommendation]:
    """The account's open recommendations under a row lock, each with the ``fingerprint`` of its lead
    finding; columns the composer does not compare load on access."""
    params = {"account_id": account_id, **_bind("open", _OPEN)}
    return list(Recommendation.objects.raw(_open_recommendations_sql(), params))


# --- the picture: what the rules read about one account ---------------------------------------------------


@dataclass(frozen=True)
class AccountRecords:
    contacts: tuple[ContactFact, ...]
    contracts: tuple[ContractFact, ...]  # active, renewing from the given day on, nearest first
    open_opportunity_amount: Decimal
    goals: tuple[GoalFact, ...]  # active


@functools.cache
def _records_sql() -> str:
    # contacts, active contracts, the open opportunities' total and the goals in one statement
    return "SELECT " + ", ".join(
        [
            _json_rows(
                Contact._meta.db_table,
                "id, name, email, seniority, title, do_not_contact, do_not_contact_reason",
                "account_id = %(account_id)s",
                "id",
            ),
            _json_rows(
                Contract._meta.db_table,
                "id, value, renewal_date, status",
                "account_id = %(account_id)s AND status = %(contract_active)s AND renewal_date >= %(renewals_from)s",
                "renewal_date, id",
            ),
            f"(SELECT SUM(amount) FROM {Opportunity._meta.db_table} WHERE account_id = %(account_id)s "
            f"AND stage NOT IN ({_in('closed_stage', 2)}))",
            _json_rows(
                Goal._meta.db_table,
                "id, name, metric, comparator, threshold, is_met, crossings, last_crossed_at",
                "account_id = %(account_id)s AND active",
                "id",
            ),
        ]
    )


def account_records(*, account_id: int, renewals_from: dt.date) -> AccountRecords:
    """The account's contacts, its active contracts renewing on or after ``renewals_from``, the amount
    of its open opportunities and its active goals."""
    params = {
        "account_id": account_id,
        "contract_active": Contract.Status.ACTIVE.value,
        "renewals_from": sql.date_param(renewals_from),
        **_bind("closed_stage", [Opportunity.Stage.WON.value, Opportunity.Stage.LOST.value]),
    }
    ((contacts, contracts, opportunity_amount, goals),) = sql.rows(_records_sql(), params)
    return AccountRecords(
        contacts=tuple(
            ContactFact(
                id=pk,
                name=name,
                email=email,
                seniority=seniority,
                title=title,
                do_not_contact=bool(dnc),
                do_not_contact_reason=reason,
            )
            for pk, name, email, seniority, title, dnc, reason in _json_list(contacts)
        ),
        contracts=tuple(
            ContractFact(id=pk, value=sql.to_decimal(value), renewal_date=sql.to_date(renewal), status=status)
            for pk, value, renewal, status in _json_list(contracts)
        ),
        open_opportunity_amount=sql.to_decimal(opportunity_amount),
        goals=tuple(
            GoalFact(
                id=pk,
                name=name,
                metric=metric,
                comparator=comparator,
                threshold=threshold,
                is_met=bool(is_met),
                crossings=crossings,
                last_crossed_at=sql.aware(last_crossed_at),
            )
            for pk, name, metric, comparator, threshold, is_met, crossings, last_crossed_at in _json_list(goals)
        ),
    )


@dataclass(frozen=True)
class KindSummary:
    """One kind of the account's signals (bots left out), as of ``now``."""

    kind: str
    max_id: int  # the newest signal of this kind, whenever it happened
    counts: tuple[int, ...]  # signals per age bucket
    last_human_at: dt.datetime | None  # the newest one that is not an auto-reply
    users_7d: int  # distinct user ids in the last 7 days
    contacts_7d: int  # distinct contacts among those without a user id, last 7 days
    oldest_7d: dt.datetime | None  # the oldest one of the last 7 days


@functools.cache
def _summary_sql(bucket_count: int) -> str:
    happened = "occurred_at <= %(now)s"
    week = f"{happened} AND occurred_at > %(week_start)s"
    buckets = ",\n  ".join(
        f"COUNT(*) FILTER (WHERE {happened} AND occurred_at > %(bucket_{i}_after)s "
        f"AND occurred_at <= %(bucket_{i}_until)s)"
        for i in range(bucket_count)
    )
    return (
        f"SELECT kind, MAX(id),\n  {buckets},\n"
        f"  MAX(occurred_at) FILTER (WHERE {happened} AND NOT is_auto_reply),\n"
        f"  COUNT(DISTINCT user_id) FILTER (WHERE {week} AND user_id <> ''),\n"
        f"  COUNT(DISTINCT contact_id) FILTER (WHERE {week} AND user_id = ''),\n"
        f"  MIN(occurred_at) FILTER (WHERE {week})\n"
        f"FROM {Signal._meta.db_table} WHERE account_id = %(account_id)s AND NOT is_bot GROUP BY kind"
    )


def signal_summary(*, account_id: int, now: dt.datetime, buckets: Sequence[tuple[int, int]]) -> list[KindSummary]:
    """Per kind, over every signal of the account: counts per age bucket (``(from, to)`` days ago, the
    newer end excluded), the newest id, the newest human activity and the 7-day usage figures."""
    params: dict[str, object] = {
        "account_id": account_id,
        "now": sql.param(now),
        "week_start": sql.param(now - dt.timedelta(days=7)),
    }
    for i, (start, end) in enumerate(buckets):
        params[f"bucket_{i}_after"] = sql.param(now - dt.timedelta(days=end))
        params[f"bucket_{i}_until"] = sql.param(now - dt.timedelta(days=start))
    n = len(buckets)
    return [
        KindSummary(
            kind=row[0],
            max_id=row[1],
            counts=tuple(row[2 : 2 + n]),
            last_human_at=sql.aware(row[2 + n]),
            users_7d=row[3 + n] or 0,
            contacts_7d=row[4 + n] or 0,
            oldest_7d=sql.aware(row[5 + n]),
        )
        for row in sql.rows(_summary_sql(n), params)
    ]


@dataclass(frozen=True)
class Silence:
    last_signal_id: int | None  # the newest inbound signal (at the last activity)
    activity_before: int  # inbound signals in the window before it
    active_days: int  # the distinct days (UTC) with an inbound signal in that window


@functools.cache
def _silence_sql(kind_count: int) -> str:
    signal, kinds = Signal._meta.db_table, _in("kind", kind_count)
    return (
        f"SELECT (SELECT id FROM {signal} WHERE account_id = %(account_id)s AND kind IN ({kinds}) "
        "AND occurred_at = %(last_activity_at)s AND NOT is_auto_reply AND NOT is_bot ORDER BY id LIMIT 1), "
        f"(SELECT COUNT(*) FROM {signal} WHERE account_id = %(account_id)s AND kind IN ({kinds}) "
        "AND occurred_at > %(since)s AND occurred_at <= %(last_activity_at)s AND NOT is_bot), "
        f"(SELECT COUNT(DISTINCT DATE(occurred_at)) FROM {signal} WHERE account_id = %(account_id)s "
        f"AND kind IN ({kinds}) AND occurred_at > %(since)s AND occurred_at <= %(last_activity_at)s AND NOT is_bot)"
    )


def silence(*, account_id: int, kinds: Sequence[str], last_activity_at: dt.datetime, before: dt.timedelta) -> Silence:
    """For a quiet account: its newest inbound signal (of ``kinds``) at ``last_activity_at``, and how many
    came in the ``before`` leading up to it, on how many distinct days."""
    params = {
        "account_id": account_id,
        "last_activity_at": sql.param(last_activity_at),
        "since": sql.param(last_activity_at - before),
        **_bind("kind", kinds),
    }
    ((last_signal_id, activity_before, active_days),) = sql.rows(_silence_sql(len(kinds)), params)
    return Silence(last_signal_id=last_signal_id, activity_before=activity_before, active_days=active_days)


class ConversationSignal(NamedTuple):
    """One signal of the conversation as stored, with the properties the rules read (JSON text), its
    fields in the order of the statement's columns. A named tuple rather than a frozen dataclass: an
    analysis reads up to ``limit`` of them, and a frozen dataclass's ``__init__`` costs several times
    more per row."""

    id: int
    kind: str
    name: str
    occurred_at: dt.datetime
    contact_id: int | None
    intent: str
    intent_confidence: float | None
    sentiment: float | None
    is_auto_reply: bool
    in_reply_to_id: int | None
    path: str | None
    url: str | None
    form: str | None
    event: str | None
    check_in_at: str | None
    subject: str | None
    referral: str | None  # JSON text of the property (an object, or a string)
    effect_withheld: str | None


@functools.cache
def _conversation_sql(kind_count: int, path_count: int) -> str:
    pages = " OR ".join(
        f"LOWER(properties ->> 'path') LIKE %(path_{i})s ESCAPE '\\' "
        f"OR LOWER(properties ->> 'url') LIKE %(path_{i})s ESCAPE '\\'"
        for i in range(path_count)
    )
    kinds = f"kind IN ({_in('kind', kind_count)})"
    which = f"({kinds} OR (kind = %(page_view)s AND ({pages})))" if path_count else kinds
    return (
        "SELECT id, kind, name, occurred_at, contact_id, intent, intent_confidence, sentiment, is_auto_reply, "
        "in_reply_to_id, properties ->> 'path', properties ->> 'url', properties ->> 'form', "
        "properties ->> 'event', properties ->> 'check_in_at', properties ->> 'subject', "
        "properties -> 'referral', properties ->> 'effect_withheld' "
        f"FROM {Signal._meta.db_table} WHERE account_id = %(account_id)s AND occurred_at <= %(now)s "
        f"AND occurred_at > %(since)s AND NOT is_bot AND {which} "
        "ORDER BY occurred_at DESC, id DESC LIMIT %(limit)s"
    )


def conversation(
    *,
    account_id: int,
    now: dt.datetime,
    since: dt.datetime,
    kinds: Sequence[str],
    page_paths: Sequence[str],
    limit: int,
) -> list[ConversationSignal]:
    """The account's signals of ``kinds`` in (``since``, ``now``], and its page views whose path or URL
    contains one of ``page_paths`` (case-folded); the newest ``limit``, returned oldest first."""
    params = {
        "account_id": account_id,
        "now": sql.param(now),
        "since": sql.param(since),
        "page_view": Signal.Kind.PAGE_VIEW.value,
        "limit": limit,
        **_bind("kind", kinds),
        **_bind("path", [sql.like_contains(path) for path in page_paths]),
    }
    rows = sql.rows(_conversation_sql(len(kinds), len(page_paths)), params)
    rows.reverse()
    # the columns come in the order of ConversationSignal's fields
    return [ConversationSignal(*row[:3], sql.aware(row[3]), *row[4:8], bool(row[8]), *row[9:]) for row in rows]


@dataclass(frozen=True)
class ClosedRecommendation:
    """One (action type, dedupe key, status) of the account's closed recommendations."""

    action_type: str
    dedupe_key: str
    status: str
    last_updated_at: dt.datetime


@functools.cache
def _closed_sql() -> str:
    return (
        f"SELECT action_type, dedupe_key, status, MAX(updated_at) FROM {Recommendation._meta.db_table} "
        f"WHERE account_id = %(account_id)s AND status NOT IN ({_in('open', len(_OPEN))}) "
        "GROUP BY action_type, dedupe_key, status"
    )


def closed_recommendations(*, account_id: int) -> list[ClosedRecommendation]:
    """When each action type was last closed with each dedupe key and status (the composer does not
    raise a decided finding again; rules read when an action type was last acted on or turned down)."""
    params: Mapping[str, object] = {"account_id": account_id, **_bind("open", _OPEN)}
    return [
        ClosedRecommendation(
            action_type=action_type, dedupe_key=dedupe_key, status=status, last_updated_at=sql.aware(last)
        )
        for action_type, dedupe_key, status, last in sql.rows(_closed_sql(), params)
    ]
