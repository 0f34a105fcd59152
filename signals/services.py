"""Writes of the signals app: storing signals (store first, announce on commit)."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction

from accounts.models import Account, Contact
from salesai import clock
from salesai.text import single_line
from signals.bots import is_automated, user_agent_of
from signals.dispatch import announce_stored
from signals.models import QuarantinedPayload, Signal, Source, WebhookDelivery

logger = logging.getLogger(__name__)

INTERNAL_SOURCE_NAME = "salesai"


def internal_source() -> Source:
    """The source for what salesai itself does (e-mails it sent, CRM changes it made)."""
    from signals.auth import hash_write_key

    source, _ = Source.objects.get_or_create(
        name=INTERNAL_SOURCE_NAME,
        defaults={
            "kind": Source.Kind.INTERNAL,
            "write_key_hash": hash_write_key(f"internal-no-key-{INTERNAL_SOURCE_NAME}"),
            "active": False,  # no write key can reach it from outside
        },
    )
    return source


def record_signal(
    *,
    source: Source,
    kind: str,
    external_id: str,
    occurred_at: datetime,
    account: Account | None = None,
    contact: Contact | None = None,
    properties: dict | None = None,
    name: str = "",
    user_id: str = "",
    anonymous_id: str = "",
    message_id: str = "",
    in_reply_to: Signal | None = None,
    intent: str = "",
    intent_confidence: float | None = None,
    sentiment: float | None = None,
    is_auto_reply: bool = False,
) -> tuple[Signal, bool]:
    """Store one signal unless ``(source, external_id)`` exists already; announce it on commit.

    Returns ``(signal, created)``; a duplicate returns the stored signal and ``False``. Safe to call
    inside a larger transaction (the dedupe runs in a savepoint)."""
    if account is None and contact is not None:
        account = contact.account
    try:
        with transaction.atomic():
            signal = Signal.objects.create(
                source=source,
                kind=kind,
                external_id=external_id,
                occurred_at=occurred_at,
                received_at=clock.now(),
                account=account,
                contact=contact,
                properties=properties or {},
                name=name,
                user_id=user_id,
                anonymous_id=anonymous_id,
                message_id=message_id,
                in_reply_to=in_reply_to,
                intent=intent,
                intent_confidence=intent_confidence,
                sentiment=sentiment,
                is_auto_reply=is_auto_reply,
            )
    except IntegrityError:
        existing = Signal.objects.filter(source=source, external_id=external_id).first()
        if existing is None:
            raise
        return existing, False
    announce_stored(signal_ids=[signal.pk], account_ids=[signal.account_id], kinds=[signal.kind])
    return signal, True


# --- bulk storing: the ingestion hot path ---------------------------------------------------------


@dataclass
class SignalDraft:
    """One signal to store; ``store_signals`` inserts many in one statement."""

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


@dataclass
class IngestResult:
    """What one request stored: new signal ids, how many were duplicates, and refused items."""

    created_ids: list[int] = field(default_factory=list)
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)
    replayed: bool = False

    @property
    def stored(self) -> int:
        return len(self.created_ids)


_INSERT_COLUMNS = (
    "source",
    "kind",
    "name",
    "external_id",
    "account",
    "contact",
    "user_id",
    "anonymous_id",
    "occurred_at",
    "received_at",
    "properties",
    "message_id",
    "is_bot",
    "intent",
    "is_auto_reply",
)
_INSERT_CHUNK = 500
_insert_field_list: list = []


def _insert_fields() -> list:
    """The model fields of ``_INSERT_COLUMNS``, looked up once."""
    if not _insert_field_list:
        _insert_field_list.extend(Signal._meta.get_field(name) for name in _INSERT_COLUMNS)
    return _insert_field_list


def store_signals(*, source: Source, drafts: list[SignalDraft], received_at: datetime | None = None) -> IngestResult:
    """Insert signals with ``INSERT … ON CONFLICT (source, external_id) DO NOTHING RETURNING id``:
    one statement per 500 signals, duplicates ignored by the database (the same dedupe as
    ``record_signal``, without a savepoint per row). New ones are announced on commit."""
    result = IngestResult()
    if not drafts:
        return result
    received_at = received_at or clock.now()
    connection = connections[Signal.objects.db]
    insert = _insert_arrays if connection.vendor == "postgresql" else _insert_rows
    accounts: set[int | None] = set()
    seen_ids: set[str] = set()
    kind_of = {d.external_id: d.kind for d in drafts}
    for start in range(0, len(drafts), _INSERT_CHUNK):
        for pk, account_id, external_id in insert(
            connection, source, drafts[start : start + _INSERT_CHUNK], received_at
        ):
            result.created_ids.append(pk)
            accounts.add(account_id)
            seen_ids.add(external_id)
    result.duplicates = len(drafts) - len(result.created_ids)
    announce_stored(
        signal_ids=result.created_ids, account_ids=accounts, kinds=[kind_of[external_id] for external_id in seen_ids]
    )
    return result


def _row_values(source: Source, d: SignalDraft, received_at: datetime) -> tuple:
    """A draft's values in the order of ``_INSERT_COLUMNS``."""
    return (source.pk, d.kind, d.name, d.external_id, d.account_id, d.contact_id, d.user_id, d.anonymous_id,
            d.occurred_at, received_at, d.properties, d.message_id, d.is_bot, "", False)  # fmt: skip


def _insert_rows(connection, source: Source, chunk: list[SignalDraft], received_at: datetime) -> list[tuple]:
    """One multi-row ``INSERT … VALUES`` (any database)."""
    fields = _insert_fields()
    quote = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list = []
    for d in chunk:
        values = _row_values(source, d, received_at)
        params.extend(f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True))
    sql = (
        f"INSERT INTO {quote(Signal._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([placeholders] * len(chunk))} "
        "ON CONFLICT (source_id, external_id) DO NOTHING RETURNING id, account_id, external_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# the array statement sends one array per column except these, which are the same for every row
_CONSTANT_COLUMNS = ("source", "received_at", "intent", "is_auto_reply")
_ARRAY_COLUMNS = tuple(name for name in _INSERT_COLUMNS if name not in _CONSTANT_COLUMNS)
_array_statements: dict[str, str] = {}


def _insert_arrays(connection, source: Source, chunk: list[SignalDraft], received_at: datetime) -> list[tuple]:
    """PostgreSQL: the chunk as one array per column, ``INSERT … SELECT … FROM unnest(…)``. The
    statement has 13 parameters whatever the chunk's size, so psycopg parses it once per process;
    ``VALUES`` with 14 placeholders per row is re-parsed on every call (over 2 ms for 100 rows)."""
    sql = _array_statements.get(connection.alias)
    if sql is None:
        quote = connection.ops.quote_name
        fields = [Signal._meta.get_field(name) for name in _ARRAY_COLUMNS]
        # Char columns arrive as text[]: an explicit cast to varchar(n) would silently truncate.
        types = ["text" if f.get_internal_type() == "CharField" else f.db_type(connection) for f in fields]
        columns = ", ".join(quote(Signal._meta.get_field(name).column) for name in _CONSTANT_COLUMNS)
        sql = _array_statements[connection.alias] = (
            f"INSERT INTO {quote(Signal._meta.db_table)} ({columns}, {', '.join(quote(f.column) for f in fields)}) "
            f"SELECT %s, %s, '', false, * FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) "
            "ON CONFLICT (source_id, external_id) DO NOTHING RETURNING id, account_id, external_id"
        )
    occurred_at = Signal._meta.get_field("occurred_at")
    properties = Signal._meta.get_field("properties")
    params = [
        source.pk,
        Signal._meta.get_field("received_at").get_db_prep_save(received_at, connection),
        [d.kind for d in chunk],
        [d.name for d in chunk],
        [d.external_id for d in chunk],
        [d.account_id for d in chunk],
        [d.contact_id for d in chunk],
        [d.user_id for d in chunk],
        [d.anonymous_id for d in chunk],
        [occurred_at.get_db_prep_save(d.occurred_at, connection) for d in chunk],
        [properties.get_db_prep_save(d.properties, connection) for d in chunk],
        [d.message_id for d in chunk],
        [d.is_bot for d in chunk],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def quarantine(
    *,
    source: Source | None,
    endpoint: str,
    error_code: str,
    errors: dict | None = None,
    payload: str | bytes | object = "",
    item_index: int | None = None,
) -> QuarantinedPayload:
    """Keep a payload refused for its content (never for auth), capped, for a person to look at."""
    return QuarantinedPayload.objects.create(
        source=source,
        endpoint=endpoint[:100],
        error_code=error_code[:50],
        errors=errors or {},
        payload=_payload_text(payload),
        item_index=item_index,
    )


QUARANTINE_MAX_CHARS = 64 * 1024


def _payload_text(payload: str | bytes | object) -> str:
    if isinstance(payload, bytes):
        text = payload[:QUARANTINE_MAX_CHARS].decode("utf-8", errors="backslashreplace")
    elif isinstance(payload, str):
        text = payload
    else:
        text = json.dumps(payload, default=str, ensure_ascii=False)
    return text[:QUARANTINE_MAX_CHARS].replace("\x00", "\\x00")


# --- Segment / RudderStack ------------------------------------------------------------------------


def ingest_segment(
    *,
    source: Source,
    events: list[object],
    type_hint: str | None,
    endpoint: str,
    sent_at: datetime | None = None,
    received_at: datetime | None = None,
    check_sizes: bool = False,
) -> IngestResult:
    """Store the valid calls of a Segment request in one transaction (identify and group upsert
    the contact and account first, in order, so later calls of the batch resolve to them); every
    refused call is reported by index and quarantined in the same transaction.

    Most requests only read (who the calls are about) and then insert their signals in one
    statement, which is atomic by itself: those skip the BEGIN/COMMIT pair (two round trips, about
    a tenth of a one-call request). An account created on the way for a new business e-mail is its
    own small transaction either way."""
    from signals.identity import Resolver, backfill, group_account, identify_contact, link_anonymous
    from signals.segment import EventError, SegmentEvent, parse_event, translate

    received_at = received_at or clock.now()
    result = IngestResult()
    refused: list[QuarantinedPayload] = []
    drafts: list[SignalDraft] = []
    parsed: list[SegmentEvent | EventError] = []
    for raw in events:
        try:
            parsed.append(
                parse_event(
                    raw, type_hint=type_hint, received_at=received_at, batch_sent_at=sent_at, check_size=check_sizes
                )
            )
        except EventError as exc:
            parsed.append(exc)
    writes_more = len(events) > _INSERT_CHUNK or any(
        isinstance(e, EventError) or e.type in ("identify", "group", "alias") for e in parsed
    )
    with transaction.atomic() if writes_more else contextlib.nullcontext():
        resolver = Resolver(source=source)
        if len(events) > 1:
            resolver.prime(
                user_ids={e["userId"] for e in events if isinstance(e, dict) and isinstance(e.get("userId"), str)},
                anonymous_ids={
                    e["anonymousId"] for e in events if isinstance(e, dict) and isinstance(e.get("anonymousId"), str)
                },
            )
        for index, (raw, event) in enumerate(zip(events, parsed, strict=True)):
            if isinstance(event, EventError):
                prefix = f"batch.{index}." if type_hint == "batch" else ""
                fields = {f"{prefix}{key}".rstrip("."): value for key, value in event.fields.items()}
                result.errors.append({"index": index, "code": event.code, "message": event.message, "fields": fields})
                refused.append(
                    QuarantinedPayload(
                        source=source,
                        endpoint=endpoint,
                        error_code=event.code,
                        errors=fields,
                        payload=_payload_text(raw),
                        item_index=index if type_hint == "batch" else None,
                    )
                )
                continue
            if event.type == "identify":
                trusted = _trusted(source, event)
                identify_contact(resolver=resolver, user_id=event.user_id, anonymous_id=event.anonymous_id,
                                 traits=event.traits, trusted=trusted)  # fmt: skip
            elif event.type == "group":
                trusted = _trusted(source, event)
                group_account(resolver=resolver, group_id=event.group_id, user_id=event.user_id,
                              traits=event.traits, trusted=trusted)  # fmt: skip
            elif event.type == "alias":
                known = resolver.resolve(user_id=event.user_id)
                if known.contact_id is not None:
                    contact = Contact.objects.get(pk=known.contact_id)
                    link_anonymous(contact=contact, anonymous_id=event.previous_id)
                    resolver.linked_anonymous[event.previous_id] = contact
            group_id = event.context.get("groupId") if isinstance(event.context.get("groupId"), str) else ""
            who = resolver.resolve(
                user_id=event.user_id, anonymous_id=event.anonymous_id, email=event.email, group_id=group_id
            )
            kind, name, properties = translate(event, source.event_map)
            drafts.append(
                SignalDraft(
                    kind=kind,
                    external_id=event.message_id,
                    occurred_at=event.occurred_at,
                    account_id=who.account_id,
                    contact_id=who.contact_id,
                    properties=properties,
                    name=name,
                    user_id=event.user_id,
                    anonymous_id=event.anonymous_id,
                    is_bot=is_automated(user_agent_of(event.properties, event.context)),
                )
            )
        stored = store_signals(source=source, drafts=drafts, received_at=received_at)
        result.created_ids, result.duplicates = stored.created_ids, stored.duplicates
        backfill(resolver=resolver)
        if refused:
            QuarantinedPayload.objects.bulk_create(refused)
    return result


_device_warned: set[int] = set()


def _trusted(source: Source, event) -> bool:
    """Whether a call's traits may overwrite records: its source is marked trusted and the call did
    not come from a browser or app library (whose write key anyone can read). A trusted source
    receiving such calls is misconfigured: said once per source and process."""
    from signals.segment import sent_from_device

    if not source.trusted_traits:
        return False
    if not sent_from_device(event):
        return True
    if source.pk not in _device_warned:
        _device_warned.add(source.pk)
        logger.warning("trusted_source_called_from_browser", extra={"source_id": source.pk, "source": source.name})
    return False


# --- our own signed format ------------------------------------------------------------------------

MAX_GENERIC_ITEMS = 1000
GENERIC_KINDS = frozenset(Signal.Kind.values)


def parse_generic_item(raw: object, *, webhook_id: str, index: int | None) -> dict:
    """Validate one item of ``POST /api/v1/signals``; raises ``EventError`` naming the field."""
    from signals.segment import EventError, check_depth, parse_timestamp

    if not isinstance(raw, dict):
        raise EventError("invalid_signal", "Each signal must be a JSON object.", {"": "Must be a JSON object."})
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in GENERIC_KINDS:
        raise EventError(
            "invalid_field" if kind else "missing_field",
            "kind must be one of the signal kinds.",
            {"kind": f"One of: {', '.join(sorted(GENERIC_KINDS))}." if kind else "This field is required."},
        )
    occurred_at = parse_timestamp(raw.get("occurred_at"), "occurred_at")
    if occurred_at is None:
        raise EventError("missing_field", "occurred_at is required.", {"occurred_at": "This field is required."})
    values: dict = {"kind": kind, "occurred_at": occurred_at}
    for key, limit in (
        ("name", 200),
        ("account_domain", 253),
        ("contact_email", 254),
        ("user_id", 200),
        ("anonymous_id", 200),
        ("external_id", 200),
        ("id", 200),
    ):
        value = raw.get(key)
        if value is None or value == "":
            values[key] = ""
            continue
        if not isinstance(value, str):
            raise EventError("invalid_field", f"{key} must be a string.", {key: "Must be a string."})
        if len(value) > limit:
            raise EventError("invalid_field", f"{key} is too long.", {key: f"At most {limit} characters."})
        values[key] = single_line(value) if key == "name" else value.strip()
    properties = raw.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise EventError("invalid_field", "properties must be an object.", {"properties": "Must be a JSON object."})
    check_depth(properties, "properties")
    values["properties"] = properties
    # An outreach e-mail's RFC 5322 Message-ID, so replies thread to it by In-Reply-To.
    message_id = raw.get("message_id", properties.get("message_id") if kind == "email_sent" else "")
    if message_id in (None, ""):
        message_id = ""
    elif not isinstance(message_id, str) or len(message_id) > 500:
        raise EventError("invalid_field", "message_id must be a string.", {"message_id": "At most 500 characters."})
    values["message_id"] = message_id.strip()
    if values["account_domain"]:
        from signals.identity import registrable_domain

        domain = registrable_domain(values["account_domain"])
        if domain is None:
            raise EventError(
                "invalid_field", "account_domain is not a domain.", {"account_domain": "Not a registrable domain."}
            )
        values["account_domain"] = domain
    if values["contact_email"]:
        from signals.identity import normalise_email

        email = normalise_email(values["contact_email"])
        if email is None:
            raise EventError("invalid_field", "contact_email is not an e-mail address.", {"contact_email": "Invalid."})
        values["contact_email"] = email
    if not any(values[k] for k in ("account_domain", "contact_email", "user_id", "anonymous_id")):
        raise EventError(
            "missing_field",
            "One of account_domain, contact_email, user_id or anonymous_id is required.",
            {"account_domain": "One of account_domain, contact_email, user_id or anonymous_id is required."},
        )
    own_id = values.pop("external_id") or values.pop("id")
    values.pop("id", None)
    values["external_id"] = own_id or (webhook_id if index is None else f"{webhook_id}:{index}")
    return values


def _generic_draft(item: dict, *, resolver, domains: dict[str, int | None]) -> SignalDraft:
    """Resolve who a validated item is about (contact by e-mail, userId/anonymousId, account by
    domain) and build its draft. A signature proves the source, not what it says about people:
    only a source marked trusted ties a userId to a person known before."""
    from signals.identity import identify_contact

    contact_id = account_id = None
    if item["contact_email"]:
        contact = identify_contact(
            resolver=resolver,
            user_id=item["user_id"],
            traits={"email": item["contact_email"]},
            trusted=resolver.source.trusted_traits,
        )
        contact_id, account_id = (contact.pk, contact.account_id) if contact else (None, None)
    elif item["user_id"] or item["anonymous_id"]:
        who = resolver.resolve(user_id=item["user_id"], anonymous_id=item["anonymous_id"])
        contact_id, account_id = who.contact_id, who.account_id
    if item["account_domain"]:
        domain = item["account_domain"]
        if domain not in domains:
            account = resolver.account_for_domain(domain)
            domains[domain] = account.pk if account else None
        account_id = domains[domain] or account_id
    return SignalDraft(
        kind=item["kind"],
        external_id=item["external_id"],
        occurred_at=item["occurred_at"],
        account_id=account_id,
        contact_id=contact_id,
        properties=item["properties"],
        name=item["name"],
        user_id=item["user_id"],
        anonymous_id=item["anonymous_id"],
        message_id=item.get("message_id", ""),
        is_bot=is_automated(user_agent_of(item["properties"])),
    )


def ingest_generic(
    *,
    source: Source,
    webhook_id: str,
    items: list[object],
    single: bool,
    endpoint: str = "/api/v1/signals",
    received_at: datetime | None = None,
) -> IngestResult:
    """Store a verified delivery of our own format. ``webhook-id`` is claimed in the same
    transaction (unique per source): a retried delivery we already stored stores nothing again and
    is answered as a success (``replayed``)."""
    from signals.identity import Resolver
    from signals.segment import EventError

    received_at = received_at or clock.now()
    if single and connection.vendor == "postgresql" and not connection.in_atomic_block:
        fast = _ingest_single_claimed(source=source, webhook_id=webhook_id, raw=items[0], received_at=received_at)
        if fast is not None:
            return fast
    result = IngestResult()
    with transaction.atomic():
        if not _claim_delivery(source=source, webhook_id=webhook_id, received_at=received_at):
            result.replayed = True
            return result
        resolver = Resolver(source=source)
        domains: dict[str, int | None] = {}
        drafts: list[SignalDraft] = []
        refused: list[QuarantinedPayload] = []
        for index, raw in enumerate(items):
            try:
                item = parse_generic_item(raw, webhook_id=webhook_id, index=None if single else index)
            except EventError as exc:
                fields = exc.fields if single else {f"{index}.{k}".rstrip("."): v for k, v in exc.fields.items()}
                result.errors.append({"index": index, "code": exc.code, "message": exc.message, "fields": fields})
                refused.append(
                    QuarantinedPayload(
                        source=source,
                        endpoint=endpoint,
                        error_code=exc.code,
                        errors=fields,
                        payload=_payload_text(raw),
                        item_index=None if single else index,
                    )
                )
                continue
            drafts.append(_generic_draft(item, resolver=resolver, domains=domains))
        if not drafts:
            # Nothing valid: the delivery is refused as a whole, so it may be sent again once fixed.
            transaction.set_rollback(True)
            for row in refused:
                row.pk = None
            refused_rows = refused
        else:
            stored = store_signals(source=source, drafts=drafts, received_at=received_at)
            result.created_ids, result.duplicates = stored.created_ids, stored.duplicates
            QuarantinedPayload.objects.bulk_create(refused)
            refused_rows = []
    if refused_rows:  # kept outside the rolled-back transaction
        QuarantinedPayload.objects.bulk_create(refused_rows)
    return result


_single_statements: dict[bool, str] = {}


def _single_signal_sql(*, look_up_account: bool) -> str:
    """The statement of the single-signal path, built once per process: claim the ``webhook-id``
    and, only if claimed, insert the signal. It answers one row per claim: none for a replayed
    delivery, ``(NULL, NULL)`` for a duplicate signal, ``(id, account_id)`` for a stored one. With
    ``look_up_account`` the account is found by domain inside the statement (the first signal of a
    company in a while); otherwise the caller knows its id (no lookup to plan and run: about a
    quarter of the statement's cost on the database)."""
    sql = _single_statements.get(look_up_account)
    if sql is None:
        quote = connection.ops.quote_name
        fields = _insert_fields()
        account = f"(SELECT id FROM {quote(Account._meta.db_table)} WHERE domain = %s)"
        values = ", ".join(account if look_up_account and f.name == "account" else "%s" for f in fields)
        sql = _single_statements[look_up_account] = (
            f"WITH claim AS (INSERT INTO {quote(WebhookDelivery._meta.db_table)} (source_id, webhook_id, received_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (source_id, webhook_id) DO NOTHING RETURNING 1), "
            f"stored AS (INSERT INTO {quote(Signal._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"SELECT {values} FROM claim ON CONFLICT (source_id, external_id) DO NOTHING RETURNING id, account_id) "
            "SELECT stored.id, stored.account_id FROM claim LEFT JOIN stored ON true"
        )
    return sql


def _ingest_single_claimed(
    *, source: Source, webhook_id: str, raw: object, received_at: datetime
) -> IngestResult | None:
    """PostgreSQL's path for the most common request, one signed signal: the ``webhook-id`` claim
    and the signal insert are one statement (a data-modifying CTE), so they are atomic without a
    BEGIN/COMMIT pair. Same outcome as the general path; None hands the request back to it (invalid
    items, or a remembered account that no longer exists)."""
    from signals.identity import (
        Resolver,
        forget_account_ids,
        is_personal_domain,
        recent_account_id,
        remember_account_id,
    )
    from signals.segment import EventError

    try:
        item = parse_generic_item(raw, webhook_id=webhook_id, index=None)
    except EventError:
        return None

    # An account named by domain alone comes from the ids this process saw in the last seconds, or
    # is looked up inside the statement; only the first signal of a new company creates it after.
    domain = item["account_domain"] if not (item["contact_email"] or item["user_id"] or item["anonymous_id"]) else ""
    if domain and is_personal_domain(domain):
        domain, item = "", {**item, "account_domain": ""}
    elif domain:
        item = {**item, "account_domain": ""}
    resolver = Resolver(source=source)
    draft = _generic_draft(item, resolver=resolver, domains={})
    remembered = recent_account_id(domain) if domain else None
    if remembered is not None:
        draft.account_id = remembered
    look_up = bool(domain) and remembered is None
    values = _row_values(source, draft, received_at)
    params = [
        source.pk,
        webhook_id,
        WebhookDelivery._meta.get_field("received_at").get_db_prep_save(received_at, connection),
    ]
    for f, v in zip(_insert_fields(), values, strict=True):
        params.append(domain if look_up and f.name == "account" else f.get_db_prep_save(v, connection))
    try:
        with connection.cursor() as cursor:
            cursor.execute(_single_signal_sql(look_up_account=look_up), params)
            row = cursor.fetchone()
    except IntegrityError:
        if remembered is None:
            raise
        forget_account_ids(remembered)  # deleted since: the statement (claim too) was rolled back
        return None
    result = IngestResult()
    if row is None:
        result.replayed = True
        return result
    signal_id, account_id = row
    if signal_id is None:
        result.duplicates = 1
        return result
    if account_id is None and domain:
        account = resolver.account_for_domain(domain)
        if account is not None:
            account_id = account.pk
            Signal.objects.filter(pk=signal_id).update(account_id=account_id)
    if domain and account_id is not None:
        remember_account_id(domain, account_id)
    result.created_ids = [signal_id]
    announce_stored(signal_ids=[signal_id], account_ids=[account_id], kinds=[draft.kind])
    return result


def _claim_delivery(*, source: Source, webhook_id: str, received_at: datetime) -> bool:
    """Insert the delivery's id unless already there; True when this request claimed it."""
    connection = connections[WebhookDelivery.objects.db]
    table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    received = WebhookDelivery._meta.get_field("received_at").get_db_prep_save(received_at, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (source_id, webhook_id, received_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (source_id, webhook_id) DO NOTHING RETURNING id",
            [source.pk, webhook_id, received],
        )
        return cursor.fetchone() is not None


# --- the outbox -----------------------------------------------------------------------------------


def requeue_unanalysed_signals(*, limit: int = 1000) -> int:
    """Announce again signals stored longer than the grace period ago and still not analysed (the
    outbox): whatever a broker outage or a lost task dropped is picked up here. Rows are locked
    with ``SKIP LOCKED`` where the database has it, so two sweeps never announce the same batch."""
    grace = timedelta(seconds=settings.SALESAI["OUTBOX_GRACE_SECONDS"])
    cutoff = clock.now() - grace
    with transaction.atomic():
        # Signals without an account have nothing to analyse until identity back-fills them, which
        # announces them again; leaving them out keeps this sweep from re-announcing them forever.
        rows = Signal.objects.filter(analyzed_at__isnull=True, received_at__lt=cutoff, account__isnull=False).order_by(
            "received_at"
        )
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        found = list(rows.values_list("pk", "account_id")[:limit])
        if found:
            announce_stored(signal_ids=[pk for pk, _ in found], account_ids=[a for _, a in found])
    return len(found)


# --- CRM sync -------------------------------------------------------------------------------------

CRM_SOURCE_NAME = "crm"


def crm_source() -> Source:
    """The source of CRM changes (API and ``import_crm``); no write key reaches it from outside."""
    from signals.auth import hash_write_key

    source, _ = Source.objects.get_or_create(
        name=CRM_SOURCE_NAME,
        defaults={
            "kind": Source.Kind.CRM,
            "write_key_hash": hash_write_key(f"internal-no-key-{CRM_SOURCE_NAME}"),
            "active": False,
        },
    )
    return source


@dataclass
class CrmAccountOutcome:
    id: int
    domain: str
    created: bool
    changed: list[str]


@dataclass
class CrmSyncResult:
    accounts: list[CrmAccountOutcome] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for a in self.accounts if a.created)

    @property
    def updated(self) -> int:
        return sum(1 for a in self.accounts if a.changed and not a.created)

    @property
    def unchanged(self) -> int:
        return sum(1 for a in self.accounts if not a.changed and not a.created)


_ACCOUNT_FIELDS = ("name", "owner", "segment", "arr", "strategic", "external_id")


def crm_sync_account(*, record: dict, actor=None) -> CrmAccountOutcome:
    """Upsert one CRM account with its contacts, opportunities and contracts by their natural keys
    (domain, e-mail, external_id), in one transaction. When anything changed, a ``crm_updated``
    signal names what, so analysis looks at the account again."""
    from accounts.services import account_upsert, contact_upsert, contract_upsert, opportunity_upsert
    from audit.services import audit_record

    with transaction.atomic():
        values = {key: record[key] for key in _ACCOUNT_FIELDS if key in record}
        account, created, changed = account_upsert(domain=record["domain"], values=values)
        changes: dict[str, list] = {"account": changed} if changed else {}
        for contact in record.get("contacts", []):
            contact_values = {k: contact[k] for k in ("name", "title", "do_not_contact") if k in contact}
            if "title" in contact_values:
                from signals.identity import guess_seniority

                contact_values["seniority"] = guess_seniority(contact_values["title"])
            _, new, fields_changed = contact_upsert(account=account, email=contact["email"], values=contact_values)
            if new or fields_changed:
                changes.setdefault("contacts", []).append(contact["email"])
        for key, upsert in (("opportunities", opportunity_upsert), ("contracts", contract_upsert)):
            for item in record.get(key, []):
                item_values = {k: v for k, v in item.items() if k != "external_id"}
                _, new, fields_changed = upsert(account=account, external_id=item["external_id"], values=item_values)
                if new or fields_changed:
                    changes.setdefault(key, []).append(item["external_id"])
        outcome = CrmAccountOutcome(id=account.pk, domain=account.domain, created=created, changed=sorted(changes))
        if created or changes:
            store_signals(
                source=crm_source(),
                drafts=[
                    SignalDraft(
                        kind=Signal.Kind.CRM_UPDATED,
                        external_id=f"crm:{account.pk}:{uuid.uuid4().hex}",
                        occurred_at=clock.now(),
                        account_id=account.pk,
                        properties={"created": created, "changes": _jsonable(changes)},
                        name="Account created" if created else "Account updated",
                    )
                ],
            )
            audit_record(
                action="crm.account_synced",
                actor=actor,
                reference=f"account:{account.pk}",
                data={"domain": account.domain, "created": created, "changes": _jsonable(changes)},
            )
    return outcome


@transaction.atomic
def crm_sync_accounts(*, records: list[dict], actor=None) -> CrmSyncResult:
    """Upsert many validated CRM accounts in one transaction (all or nothing)."""
    result = CrmSyncResult()
    for record in records:
        result.accounts.append(crm_sync_account(record=record, actor=actor))
    return result


def _jsonable(changes: dict) -> dict:
    return {key: [str(v) for v in values] for key, values in changes.items()}
