"""Proactive notices to reps: the morning digest and immediate notices for urgent recommendations.

A rep need not open the inbox to learn that something matters. Both notices are opt-out per user
(``accounts.RepProfile``), link to the card (``settings.SITE_URL`` + path) and go through Django's
e-mail backend as text + HTML.

Once-only is kept in the data: a digest claims the rep's local day (``last_digest_sent_on``) with a
conditional update before sending, and an urgent notice claims an audit row
(``recommendation.urgent_notice_sent``) under a row lock on the recommendation. A failed send releases
the claim, so the next run tries again.

Tasks (thin, in ``tasks.py``): ``recommendations.send_due_digests`` (beat, every 15 minutes) and
``recommendations.notify_urgent`` (queued by the analysis on commit when it creates an urgent
recommendation).
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import RepProfile
from audit.models import AuditEvent
from audit.services import audit_record
from recommendations.models import Recommendation
from recommendations.playbooks import action_for
from recommendations.selectors import INBOX_ORDER, recommendations_for
from salesai import clock

logger = logging.getLogger(__name__)

URGENT_PRIORITY = 85
DIGEST_CATCH_UP_HOURS = 3  # a digest missed at 08:00 (worker down) still goes out until 11:00
DIGEST_MAX_ITEMS = 10
URGENT_NOTICE_ACTION = "recommendation.urgent_notice_sent"
URGENT_NOTICE_FAILED_ACTION = "recommendation.urgent_notice_failed"


def card_url(recommendation: Recommendation) -> str:
    """The absolute link to one recommendation's card."""
    return settings.SITE_URL + reverse("recommendations:detail", args=[recommendation.pk])


def is_urgent(recommendation: Recommendation) -> bool:
    """Priority ≥ 85, or an action type its playbook declares urgent (an answer to a new lead)."""
    action = action_for(recommendation.action_type)
    return recommendation.priority >= URGENT_PRIORITY or (action is not None and action.urgent)


def profile_for(user) -> RepProfile:
    """The user's preferences, created with the defaults on first use."""
    profile, _ = RepProfile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def update_notification_preferences(
    *,
    user,
    time_zone: str,
    digest_enabled: bool,
    digest_hour: int,
    urgent_notices_enabled: bool,
    undo_seconds: int | None = None,
    signature: str | None = None,
) -> RepProfile:
    """Save a person's preferences (one transaction, with its audit row): notices, and optionally the
    undo window of their approvals (0–120 s) and the signature their drafts end with."""
    zoneinfo.ZoneInfo(time_zone)  # raises for an unknown zone: forms validate before calling
    if undo_seconds is not None and not 0 <= undo_seconds <= 120:
        raise ValueError("undo_seconds must be 0–120")  # forms validate before calling
    profile, _ = RepProfile.objects.select_for_update().get_or_create(user=user)
    changes = {
        "time_zone": time_zone,
        "digest_enabled": digest_enabled,
        "digest_hour": digest_hour,
        "urgent_notices_enabled": urgent_notices_enabled,
    }
    if undo_seconds is not None:
        changes["undo_seconds"] = undo_seconds
    if signature is not None:
        changes["signature"] = signature.strip()
    for field, value in changes.items():
        setattr(profile, field, value)
    profile.save(update_fields=list(changes))
    audit_record(
        action="rep_profile.updated",
        actor=user,
        reference=f"user:{user.pk}",
        data={k: v for k, v in changes.items() if k != "signature"} | {"signature_set": bool(profile.signature)},
    )
    return profile


def _send(*, to: str, subject: str, template: str, context: dict) -> None:
    text = render_to_string(f"recommendations/notices/{template}.txt", context)
    html = render_to_string(f"recommendations/notices/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


# --- the morning digest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestItem:
    recommendation: Recommendation
    url: str
    new: bool


def _local_now(profile: RepProfile, now: dt.datetime) -> dt.datetime:
    try:
        zone = zoneinfo.ZoneInfo(profile.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(zone)


def digest_is_due(profile: RepProfile, now: dt.datetime) -> bool:
    """Due when it is the rep's digest hour (or up to a few hours later, to catch up a missed run)
    and no digest went out on this local day yet."""
    if not profile.digest_enabled:
        return False
    local = _local_now(profile, now)
    if profile.last_digest_sent_on == local.date():
        return False
    return profile.digest_hour <= local.hour < profile.digest_hour + DIGEST_CATCH_UP_HOURS


def send_digest(*, user, now: dt.datetime | None = None) -> bool:
    """Send one rep their digest if it is due; True when an e-mail went out.

    The local day is claimed first with a conditional update, so two beat runs (or two beat
    instances) never send it twice; an empty inbox still claims the day (nothing to say today)."""
    now = now or clock.now()
    profile = profile_for(user)
    if not digest_is_due(profile, now):
        return False
    today = _local_now(profile, now).date()
    previous = profile.last_digest_sent_on
    claimed = (
        RepProfile.objects.filter(pk=profile.pk)
        .filter(Q(last_digest_sent_on__isnull=True) | ~Q(last_digest_sent_on=today))
        .update(last_digest_sent_on=today)
    )
    if not claimed:
        return False
    since = now - dt.timedelta(days=1)
    pending = (
        recommendations_for(user=user)
        .filter(status=Recommendation.Status.PENDING)
        .select_related("account", "contact")
        .order_by(*INBOX_ORDER)
    )
    total = pending.count()
    new_count = pending.filter(created_at__gte=since).count()
    if not new_count:
        logger.info("digest.skipped", extra={"user_id": user.pk, "pending": total})
        return False
    items = [DigestItem(r, card_url(r), r.created_at >= since) for r in pending[:DIGEST_MAX_ITEMS]]
    context = {
        "user": user,
        "items": items,
        "total": total,
        "new_count": new_count,
        "inbox_url": settings.SITE_URL + reverse("recommendations:home"),
        "preferences_url": settings.SITE_URL + reverse("recommendations:preferences"),
        "today": today,
    }
    noun = "recommendation" if new_count == 1 else "recommendations"
    try:
        _send(
            to=user.email,
            subject=f"{new_count} new {noun} for you today",
            template="digest",
            context=context,
        )
    except Exception:
        # Release the claim so the next run (15 minutes later) tries again, then let it be logged.
        RepProfile.objects.filter(pk=profile.pk, last_digest_sent_on=today).update(last_digest_sent_on=previous)
        raise
    audit_record(
        action="rep.digest_sent",
        reference=f"user:{user.pk}",
        data={"new": new_count, "pending": total, "local_day": today.isoformat()},
    )
    logger.info("digest.sent", extra={"user_id": user.pk, "new": new_count, "pending": total})
    return True


def send_due_digests(*, now: dt.datetime | None = None) -> int:
    """Send every due digest; returns how many went out. One rep's failure does not stop the others."""
    now = now or clock.now()
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .filter(Q(owned_accounts__isnull=False) | Q(rep_profile__isnull=False))
        .distinct()
    )
    sent = 0
    for user in users.iterator():
        try:
            sent += send_digest(user=user, now=now)
        except Exception:
            logger.exception("digest.failed", extra={"user_id": user.pk})
    return sent


# --- urgent notices -----------------------------------------------------------------------------------


def _urgent_notice_claimed(reference: str) -> bool:
    """A claim stands unless a later failure row released it."""
    actions = list(
        AuditEvent.objects.filter(
            reference=reference, action__in=[URGENT_NOTICE_ACTION, URGENT_NOTICE_FAILED_ACTION]
        ).values_list("action", flat=True)
    )
    claims = actions.count(URGENT_NOTICE_ACTION)
    return claims > len(actions) - claims


def notify_urgent(*, recommendation_id: int) -> bool:
    """E-mail the account's owner at once about an urgent recommendation (priority ≥ 85 or speed to
    lead), once per recommendation. True when an e-mail went out; quietly False when the row is gone,
    no longer open, not urgent, or the rep opted out."""
    with transaction.atomic():
        recommendation = (
            Recommendation.objects.select_for_update(of=("self",))
            .select_related("account__owner", "contact")
            .filter(pk=recommendation_id)
            .first()
        )
        if recommendation is None or not recommendation.is_open or not is_urgent(recommendation):
            return False
        owner = recommendation.account.owner
        if owner is None or not owner.is_active or not owner.email:
            return False
        if not profile_for(owner).urgent_notices_enabled:
            return False
        reference = f"recommendation:{recommendation.pk}"
        if _urgent_notice_claimed(reference):
            return False
        claim = audit_record(
            action=URGENT_NOTICE_ACTION,
            reference=reference,
            data={"to_user": owner.pk, "priority": recommendation.priority},
        )
    context = {"user": owner, "recommendation": recommendation, "url": card_url(recommendation)}
    try:
        _send(
            to=owner.email,
            subject=f"Urgent: {recommendation.title}",
            template="urgent",
            context=context,
        )
    except Exception:
        # The audit trail is append-only, so a failed send is recorded rather than erased: a failure
        # row releases its claim (see _urgent_notice_claimed) and a retry may try again.
        audit_record(action=URGENT_NOTICE_FAILED_ACTION, reference=reference, data={"claim": claim.pk})
        raise
    logger.info("urgent_notice.sent", extra={"recommendation_id": recommendation.pk, "user_id": owner.pk})
    return True
