"""Storing signals: the two ways a Signal is inserted, and the quarantine of what was refused.

- :func:`record_signal` stores one signal through the ORM (e-mails, outreach we sent): a duplicate
  ``(source, external_id)`` is caught in a savepoint, so it is safe inside a larger transaction.
- :func:`store_signals` stores many (or one on the hot path) with one statement per 500
  (``signals.queries.insert_signals``): duplicates are skipped by the database.

Both announce what they stored on commit (``signals.dispatch``), so analysis is queued only for
what is durably there (store first, DESIGN.md §1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.models import Account, Contact
from salesai import clock
from signals.dispatch import announce_stored
from signals.models import QuarantinedPayload, Signal, Source
from signals.queries import DeliveryClaim, SignalDraft, insert_signals

QUARANTINE_MAX_CHARS = 64 * 1024


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


@dataclass
class IngestResult:
    """What one request stored: new signal ids (with their accounts and kinds), how many were
    duplicates, the refused items, and whether the whole delivery was one stored before (``replayed``)."""

    created_ids: list[int] = field(default_factory=list)
    account_ids: list[int | None] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)
    replayed: bool = False

    @property
    def stored(self) -> int:
        return len(self.created_ids)

    def refuse(
        self,
        *,
        index: int,
        code: str,
        message: str,
        fields: dict,
        source: Source,
        endpoint: str,
        payload: str | bytes | object,
        item_index: int | None,
    ) -> QuarantinedPayload:
        """Report item ``index`` as refused, and return its quarantine row (not saved yet)."""
        self.errors.append({"index": index, "code": code, "message": message, "fields": fields})
        return refused(
            source=source, endpoint=endpoint, error_code=code, errors=fields, payload=payload, item_index=item_index
        )


def store_signals(
    *,
    source: Source,
    drafts: list[SignalDraft],
    received_at: datetime | None = None,
    claim: DeliveryClaim | None = None,
    announce: bool = True,
) -> IngestResult:
    """Insert ``drafts`` (duplicates skipped by the database, the same dedupe as ``record_signal``
    without a savepoint per row) and announce the new ones on commit (unless the caller will, once
    it has done more). With ``claim``, a delivery's ``webhook-id`` claimed before stores nothing and
    comes back ``replayed``."""
    result = IngestResult()
    if not drafts:
        return result
    outcome = insert_signals(
        source_id=source.pk,
        received_at=received_at or clock.now(),
        drafts=drafts,
        claim=claim,
        using=Signal.objects.db,
    )
    if not outcome.claimed:
        result.replayed = True
        return result
    result.created_ids = [row.id for row in outcome.stored]
    result.account_ids = [row.account_id for row in outcome.stored]
    result.duplicates = len(drafts) - len(outcome.stored)
    kind_of = {d.external_id: d.kind for d in drafts}
    result.kinds = [kind_of[row.external_id] for row in outcome.stored]
    if announce:
        announce_stored(signal_ids=result.created_ids, account_ids=result.account_ids, kinds=result.kinds)
    return result


def refused(
    *,
    source: Source | None,
    endpoint: str,
    error_code: str,
    errors: dict | None = None,
    payload: str | bytes | object = "",
    item_index: int | None = None,
) -> QuarantinedPayload:
    """A payload refused for its content (never for auth), capped, for a person to look at; not saved
    yet, so a request can keep many with one ``bulk_create``."""
    return QuarantinedPayload(
        source=source,
        endpoint=endpoint[:100],
        error_code=error_code[:50],
        errors=errors or {},
        payload=payload_text(payload),
        item_index=item_index,
    )


def payload_text(payload: str | bytes | object) -> str:
    """What is kept of a refused payload: text, at most ``QUARANTINE_MAX_CHARS``, without NULs."""
    if isinstance(payload, bytes):
        text = payload[:QUARANTINE_MAX_CHARS].decode("utf-8", errors="backslashreplace")
    elif isinstance(payload, str):
        text = payload
    else:
        try:
            text = json.dumps(payload, default=str, ensure_ascii=False)
        except RecursionError:  # nested deeper than the encoder's stack: say so rather than fail
            text = f"(not kept: a {type(payload).__name__} nested too deeply to serialise)"
    return text[:QUARANTINE_MAX_CHARS].replace("\x00", "\\x00")
