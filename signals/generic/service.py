"""Storing a verified delivery of our own signed format (``signals.generic.format``).

``webhook-id`` is claimed once per source, in the same transaction as the delivery's signals: a
retried delivery we already stored stores nothing again and is answered as a success
(``replayed``). The most common delivery, one signal naming a company by domain or a person by id,
is claimed and stored in one statement.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, connections, transaction

from salesai import clock
from signals.bots import is_automated, user_agent_of
from signals.dispatch import announce_stored
from signals.generic.format import parse_generic_item
from signals.identity.domains import forget_account_ids, is_personal_domain, recent_account_id, remember_account_id
from signals.identity.resolver import Resolver
from signals.identity.traits import identify_contact
from signals.models import QuarantinedPayload, Signal, Source
from signals.queries import DeliveryClaim, SignalDraft, claim_delivery
from signals.segment.dialect import EventError
from signals.storing import IngestResult, store_signals

ENDPOINT = "/api/v1/signals"


def ingest_generic(
    *,
    source: Source,
    webhook_id: str,
    items: list[object],
    single: bool,
    endpoint: str = ENDPOINT,
    received_at: datetime | None = None,
) -> IngestResult:
    """Store a verified delivery: its valid items, each refused one reported by index and
    quarantined. A delivery with no valid item is refused as a whole (nothing claimed), so it may be
    sent again once fixed."""
    received_at = received_at or clock.now()
    claim = DeliveryClaim(webhook_id=webhook_id, received_at=received_at)
    if single:
        fast = _store_one_signal(source=source, claim=claim, raw=items[0])
        if fast is not None:
            return fast
    result = IngestResult()
    with transaction.atomic():
        if not claim_delivery(source_id=source.pk, claim=claim, using=Signal.objects.db):
            result.replayed = True
            return result
        resolver = Resolver(source=source)
        domains: dict[str, int | None] = {}
        drafts: list[SignalDraft] = []
        quarantined: list[QuarantinedPayload] = []
        for index, raw in enumerate(items):
            try:
                item = parse_generic_item(raw, webhook_id=webhook_id, index=None if single else index)
            except EventError as exc:
                fields = exc.fields if single else {f"{index}.{k}".rstrip("."): v for k, v in exc.fields.items()}
                quarantined.append(
                    result.refuse(
                        index=index,
                        code=exc.code,
                        message=exc.message,
                        fields=fields,
                        source=source,
                        endpoint=endpoint,
                        payload=raw,
                        item_index=None if single else index,
                    )
                )
                continue
            drafts.append(_resolved_draft(item, resolver=resolver, domains=domains))
        if drafts:
            stored = store_signals(source=source, drafts=drafts, received_at=received_at)
            result.created_ids, result.duplicates = stored.created_ids, stored.duplicates
            QuarantinedPayload.objects.bulk_create(quarantined)
            quarantined = []
        else:
            transaction.set_rollback(True)
    if quarantined:  # kept outside the rolled-back transaction
        QuarantinedPayload.objects.bulk_create(quarantined)
    return result


def _draft(item: dict, **who) -> SignalDraft:
    return SignalDraft(
        kind=item["kind"],
        external_id=item["external_id"],
        occurred_at=item["occurred_at"],
        properties=item["properties"],
        name=item["name"],
        user_id=item["user_id"],
        anonymous_id=item["anonymous_id"],
        message_id=item["message_id"],
        is_bot=is_automated(user_agent_of(item["properties"])),
        **who,
    )


def _resolved_draft(item: dict, *, resolver: Resolver, domains: dict[str, int | None]) -> SignalDraft:
    """Resolve who a validated item is about (contact by e-mail, userId/anonymousId, account by
    domain, which wins) and build its draft. A signature proves the source, not what it says about
    people: only a source marked trusted ties a userId to a person known before."""
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
    return _draft(item, account_id=account_id, contact_id=contact_id)


def _store_one_signal(*, source: Source, claim: DeliveryClaim, raw: object) -> IngestResult | None:
    """The most common delivery, one valid signal naming either a company by domain or a person by
    userId/anonymousId: claimed and stored in one statement (no BEGIN/COMMIT pair), who it is about
    looked up by that statement. None hands the delivery to the general path (an invalid item, an
    e-mail address to resolve, or a remembered account that no longer exists)."""
    try:
        item = parse_generic_item(raw, webhook_id=claim.webhook_id, index=None)
    except EventError:
        return None
    by_person = bool(item["user_id"] or item["anonymous_id"])
    if item["contact_email"] or (by_person and item["account_domain"]):
        return None
    domain = item["account_domain"]
    if domain and is_personal_domain(domain):
        domain = ""
    connection = connections[Signal.objects.db]
    # An account named by domain alone comes from the ids this process saw in the last seconds, or is
    # looked up by the statement; only the first signal of a new company creates it, after. Inside a
    # transaction a remembered id is not used: a deleted account would fail only at its commit.
    remembered = recent_account_id(domain) if domain and not connection.in_atomic_block else None
    draft = _draft(
        item,
        account_id=remembered,
        find_person=by_person,
        find_account_domain=domain if remembered is None else "",
    )
    try:
        result = store_signals(
            source=source, drafts=[draft], received_at=claim.received_at, claim=claim, announce=False
        )
    except IntegrityError:
        if remembered is None:
            raise
        forget_account_ids(remembered)  # deleted since: the statement, claim too, was rolled back
        return None
    if not result.created_ids:
        return result
    account_id = result.account_ids[0]
    if account_id is None and domain:
        account = Resolver(source=source).account_for_domain(domain)
        if account is not None:
            account_id = account.pk
            Signal.objects.filter(pk=result.created_ids[0]).update(account_id=account_id)
    if domain and account_id is not None:
        remember_account_id(domain, account_id)
    result.account_ids = [account_id]
    announce_stored(signal_ids=result.created_ids, account_ids=result.account_ids, kinds=result.kinds)
    return result
