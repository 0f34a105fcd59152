"""What customers' legal teams ask of every e-mail salesai sends (``OutreachPolicy`` holds the settings):

- it goes out in the contact's working hours (their time zone from their traits, else the account's,
  else the owner rep's), else it waits for the next working-hours start;
- it carries ``List-Unsubscribe`` (a signed link) and ``List-Unsubscribe-Post`` (RFC 8058 one-click);
  following the link marks the contact do-not-contact, and a forged or unsigned link does nothing;
- an e-mail sent on autonomy may carry an AI-disclosure line (admin setting);
- after a person at an account replies, salesai does not act alone there for 14 days or until a rep
  acts on the account (a review, or an e-mail of their own), and the trust reason says so."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core import signing
from django.urls import reverse

from accounts.models import Contact
from accounts.services import contact_mark_do_not_contact
from audit.services import audit_record
from recommendations.models import OutreachPolicy, Recommendation, Review
from signals.models import Signal

UNSUBSCRIBE_SALT = "salesai.unsubscribe"
TIME_ZONE_TRAITS = ("timezone", "time_zone", "tz")


def zone_named(name: object) -> zoneinfo.ZoneInfo | None:
    """The IANA time zone called ``name``, or None (blank, unknown or not a string)."""
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        return zoneinfo.ZoneInfo(name.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def contact_time_zone(rec: Recommendation) -> zoneinfo.ZoneInfo:
    """The contact's time zone: their traits, the account's traits, the owner rep's profile, else UTC."""
    sources = [getattr(rec.contact, "traits", None) or {}, rec.account.traits or {}]
    for traits in sources:
        for key in TIME_ZONE_TRAITS:
            zone = zone_named(traits.get(key))
            if zone is not None:
                return zone
    owner = rec.account.owner
    profile = getattr(owner, "rep_profile", None) if owner is not None else None
    return zone_named(getattr(profile, "time_zone", None)) or zoneinfo.ZoneInfo("UTC")


def next_working_moment(now: dt.datetime, zone: zoneinfo.ZoneInfo, policy: OutreachPolicy) -> dt.datetime:
    """``now`` when it is inside working hours (Monday–Friday, start ≤ hour < end, local time), else the
    next working-hours start."""
    local = now.astimezone(zone)
    if local.weekday() < 5 and policy.working_hours_start <= local.hour < policy.working_hours_end:
        return now
    day = local.date() if local.hour < policy.working_hours_start else local.date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(policy.working_hours_start), tzinfo=zone)
    return start.astimezone(dt.UTC)


def send_window(rec: Recommendation, now: dt.datetime, policy: OutreachPolicy | None = None) -> dt.datetime:
    """When ``rec``'s e-mail may go out (``now`` if it may now). Internal notices go at once."""
    if rec.is_internal or rec.contact_id is None or not settings.SALESAI.get("SEND_IN_WORKING_HOURS", True):
        return now
    return next_working_moment(now, contact_time_zone(rec), policy or OutreachPolicy.current())


# --- unsubscribe ------------------------------------------------------------------------------------


def unsubscribe_token(contact: Contact) -> str:
    """A signed token naming the contact: only salesai can make one."""
    return signing.dumps({"c": contact.pk, "e": contact.email}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(contact: Contact) -> str:
    return settings.SITE_URL + reverse("recommendations:unsubscribe", args=[unsubscribe_token(contact)])


def unsubscribe_headers(contact: Contact) -> dict[str, str]:
    """RFC 2369 ``List-Unsubscribe`` and RFC 8058 ``List-Unsubscribe-Post`` (one click, no login)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(contact)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def contact_for_token(token: str) -> Contact | None:
    """The contact a genuine token names (its address unchanged since), or None for a forged one."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    return Contact.objects.filter(pk=data.get("c"), email=data.get("e")).first()


def unsubscribe(*, token: str, now: dt.datetime) -> Contact | None:
    """Mark the token's contact do-not-contact (idempotent); None, and nothing changed, for a bad token."""
    contact = contact_for_token(token)
    if contact is None:
        return None
    if not contact.do_not_contact:
        contact_mark_do_not_contact(contact=contact, reason=f"Unsubscribed by link on {now:%d %b %Y}")
        audit_record(action="contact.unsubscribed", reference=f"contact:{contact.pk}", data={"via": "link"})
    return contact


# --- autonomous e-mails ---------------------------------------------------------------------------------


def with_disclosure(body: str, *, autonomous: bool, policy: OutreachPolicy | None = None) -> str:
    """The body, plus the admin's AI-disclosure line when it is on and salesai sends on its own."""
    policy = policy or OutreachPolicy.current()
    if not autonomous or not policy.ai_disclosure or not policy.ai_disclosure_text.strip():
        return body
    return f"{body.rstrip()}\n\n--\n{policy.ai_disclosure_text.strip()}\n"


def reply_pause_reason(rec: Recommendation, now: dt.datetime, policy: OutreachPolicy | None = None) -> str:
    """Why autonomy is paused for the account (a person replied and no rep acted since), or ''."""
    policy = policy or OutreachPolicy.current()
    since = now - dt.timedelta(days=policy.human_reply_pause_days)
    reply = (
        Signal.objects.filter(
            account_id=rec.account_id, kind=Signal.Kind.EMAIL_REPLY, is_auto_reply=False, occurred_at__gt=since
        )
        .exclude(intent=Signal.Intent.AUTO_REPLY)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if reply is None:
        return ""
    reviewed = Review.objects.filter(
        recommendation__account_id=rec.account_id, reviewer__isnull=False, created_at__gt=reply
    ).exists()
    wrote = (
        Signal.objects.filter(account_id=rec.account_id, kind=Signal.Kind.EMAIL_SENT, occurred_at__gt=reply)
        .exclude(properties__has_key="recommendation_id")
        .exists()
    )
    if reviewed or wrote:
        return ""
    until = reply + dt.timedelta(days=policy.human_reply_pause_days)
    return (
        f"A person at {rec.account.name} replied on {reply:%d %b %Y}: salesai does not act alone there until a rep "
        f"acts on the account, or until {until:%d %b %Y}."
    )
