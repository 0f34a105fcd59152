"""Writes of the signals app: storing signals (store first, announce on commit)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.models import Account, Contact
from salesai import clock
from signals.dispatch import announce_stored
from signals.models import Signal, Source

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
    announce_stored(signal_ids=[signal.pk], account_ids=[signal.account_id])
    return signal, True
