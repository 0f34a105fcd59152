"""Storing a Segment / RudderStack request: its calls validated (``signals.segment.dialect``), who
they are about resolved, their signals stored in one statement, refused calls quarantined."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from datetime import datetime

from django.db import transaction

from accounts.models import Contact
from salesai import clock
from signals.bots import is_automated, user_agent_of
from signals.identity.resolver import Resolver
from signals.identity.traits import backfill, group_account, identify_contact, link_anonymous
from signals.models import QuarantinedPayload, Source
from signals.queries import CHUNK, SignalDraft
from signals.segment.dialect import EventError, SegmentEvent, parse_event, sent_from_device, translate
from signals.storing import IngestResult, store_signals

logger = logging.getLogger(__name__)

_WRITING_TYPES = ("identify", "group", "alias")


def ingest_segment(
    *,
    source: Source,
    events: list[object],
    type_hint: str | None,
    endpoint: str,
    sent_at: datetime | None = None,
    received_at: datetime | None = None,
    check_sizes: bool = False,
    body: bytes | None = None,
) -> IngestResult:
    """Store the valid calls of a Segment request in one transaction (identify and group upsert
    the contact and account first, in order, so later calls of the batch resolve to them); every
    refused call is reported by index and quarantined in the same transaction.

    Most requests only read (track, page and screen calls): their signals are inserted in one
    statement, which is atomic by itself and so needs no BEGIN/COMMIT pair, and which also looks up
    who each call is about (by userId, anonymousId and groupId) instead of a query per identity
    first. A call that names an e-mail address is resolved here, as it may find its company by
    domain; an account created on the way for a new business e-mail is its own small transaction.

    ``body`` is the request as received: what a refused single call is quarantined as."""
    received_at = received_at or clock.now()
    result = IngestResult()
    parsed = [
        _parse(raw, type_hint=type_hint, received_at=received_at, sent_at=sent_at, check_sizes=check_sizes)
        for raw in events
    ]
    reads_only = len(events) <= CHUNK and not any(isinstance(e, EventError) or e.type in _WRITING_TYPES for e in parsed)
    with contextlib.nullcontext() if reads_only else transaction.atomic():
        resolver = Resolver(source=source)
        # the people this request resolves here rather than in the insert: two queries for all of them
        resolved_here = [e for e in parsed if isinstance(e, SegmentEvent) and not (reads_only and e.email is None)]
        if len(events) > 1 and resolved_here:
            resolver.prime(
                user_ids={e.user_id for e in resolved_here if e.user_id},
                anonymous_ids={e.anonymous_id for e in resolved_here if e.anonymous_id},
            )
        drafts: list[SignalDraft] = []
        quarantined: list[QuarantinedPayload] = []
        for index, (raw, event) in enumerate(zip(events, parsed, strict=True)):
            if isinstance(event, EventError):
                prefix = f"batch.{index}." if type_hint == "batch" else ""
                fields = {f"{prefix}{key}".rstrip("."): value for key, value in event.fields.items()}
                quarantined.append(
                    result.refuse(
                        index=index,
                        code=event.code,
                        message=event.message,
                        fields=fields,
                        source=source,
                        endpoint=endpoint,
                        payload=raw if type_hint == "batch" or body is None else body,
                        item_index=index if type_hint == "batch" else None,
                    )
                )
                continue
            _apply_identity_call(event, source=source, resolver=resolver)
            drafts.append(_draft(event, source=source, resolver=resolver, look_up_in_statement=reads_only))
        stored = store_signals(source=source, drafts=drafts, received_at=received_at)
        result.created_ids, result.duplicates = stored.created_ids, stored.duplicates
        backfill(resolver=resolver)
        if quarantined:
            QuarantinedPayload.objects.bulk_create(quarantined)
    return result


def _parse(raw: object, *, type_hint, received_at, sent_at, check_sizes) -> SegmentEvent | EventError:
    try:
        return parse_event(
            raw, type_hint=type_hint, received_at=received_at, batch_sent_at=sent_at, check_size=check_sizes
        )
    except EventError as exc:
        return exc


def _apply_identity_call(event: SegmentEvent, *, source: Source, resolver: Resolver) -> None:
    """What an identify, group or alias call says about people and companies, written before its signal."""
    if event.type == "identify":
        identify_contact(
            resolver=resolver,
            user_id=event.user_id,
            anonymous_id=event.anonymous_id,
            traits=event.traits,
            trusted=_trusted(source, event),
        )
    elif event.type == "group":
        group_account(
            resolver=resolver,
            group_id=event.group_id,
            user_id=event.user_id,
            traits=event.traits,
            trusted=_trusted(source, event),
        )
    elif event.type == "alias":
        known = resolver.resolve(user_id=event.user_id)
        if known.contact_id is not None:
            contact = Contact.objects.get(pk=known.contact_id)
            link_anonymous(contact=contact, anonymous_id=event.previous_id)
            resolver.linked_anonymous[event.previous_id] = contact


def _draft(event: SegmentEvent, *, source: Source, resolver: Resolver, look_up_in_statement: bool) -> SignalDraft:
    """The signal of one call. In a request that writes nothing before its signals, who it is about is
    looked up by the insert itself, unless an e-mail address is to be resolved (it may create an account)."""
    group_id = event.context.get("groupId") if isinstance(event.context.get("groupId"), str) else ""
    kind, name, properties = translate(event, source.event_map)
    draft = SignalDraft(
        kind=kind,
        external_id=event.message_id,
        occurred_at=event.occurred_at,
        properties=properties,
        name=name,
        user_id=event.user_id,
        anonymous_id=event.anonymous_id,
        is_bot=is_automated(user_agent_of(event.properties, event.context)),
    )
    email = event.email
    if look_up_in_statement and not email:
        return replace(draft, find_person=True, find_group_id=group_id)
    who = resolver.resolve(user_id=event.user_id, anonymous_id=event.anonymous_id, email=email, group_id=group_id)
    return replace(draft, account_id=who.account_id, contact_id=who.contact_id)


_device_warned: set[int] = set()


def _trusted(source: Source, event: SegmentEvent) -> bool:
    """Whether a call's traits may overwrite records: its source is marked trusted and the call did
    not come from a browser or app library (whose write key anyone can read). A trusted source
    receiving such calls is misconfigured: said once per source and process."""
    if not source.trusted_traits:
        return False
    if not sent_from_device(event):
        return True
    if source.pk not in _device_warned:
        _device_warned.add(source.pk)
        logger.warning("trusted_source_called_from_browser", extra={"source_id": source.pk, "source": source.name})
    return False
