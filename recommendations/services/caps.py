"""Contact and account caps, and the rep's daily inbox budget: a recommendation that would break one is
*held* (status ``held``, ``held_until``, ``held_reason``), never dropped, and comes back when it allows.

What counts (``OutreachPolicy``): every outbound e-mail to the contact or account in the window — the
rep's own (``email_sent`` signals from their mailbox or CRM) and salesai's — plus the sends already
offered: recommendations awaiting a person or scheduled. So a contact is never offered more e-mails
than its cap, whichever playbooks fire. Internal notices (to the rep or managers) e-mail no customer
and count nowhere.

Three doorways apply it: routing (``review.route_recommendation``: a new or released recommendation is
admitted or held), analysis (:func:`enforce`: the rep's own e-mails arrived, so offers beyond the cap
are held, lowest priority first) and execution (:func:`send_hold`: the last check, counting only what
was actually sent, so an approval cannot break a cap). :func:`release_held` (the beat sweep) routes
the held ones whose time has come; routing re-checks, so one still over a cap is held again.

Answers are not outreach: when a person decides on an e-mail that answers a message its contact wrote
(``Recommendation.is_answer``), the caps do not hold it (``OutreachPolicy.answers_exempt``, on by
default), as e-mail tools leave one-to-one e-mails out of their frequency caps. Holding a reply to a
question until the week's e-mails age out (up to 7 days) makes the answer come after the person has
moved on. An answer still counts, offered or sent, towards the caps of everything else; and one salesai
would send on its own is capped like any send, at routing and at send time.

The rep's daily budget (:func:`budget_hold`) counts what *entered* their inbox on their local day
(``Recommendation.entered_inbox_at``; routing applies it to one about to await them, never to one
salesai sends on its own): past ``rep_daily_budget`` new ones, the lowest priorities wait for the next
day, and a more urgent one arriving later takes the place of today's lowest still awaiting them."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from accounts.models import RepProfile
from audit.services import audit_record
from recommendations.models import OutreachPolicy, Recommendation
from recommendations.playbooks import all_playbooks
from recommendations.selectors import latest_approval
from recommendations.services.compliance import zone_named
from salesai.roles import person_name
from signals.models import Signal

OFFERED = (Recommendation.Status.PENDING, Recommendation.Status.SCHEDULED)
DAY = dt.timedelta(days=1)
RELEASE_BATCH = 500


@dataclass(frozen=True)
class Hold:
    until: dt.datetime
    reason: str
    scope: str = ""  # what holds it: "contact" or "account" (a cap), "budget" (the rep's day)


def internal_action_types() -> list[str]:
    """Action types that tell people inside the company (no customer e-mail: no cap applies)."""
    return [a.code for p in all_playbooks() for a in p.actions if a.internal]


def _sent(*, now: dt.datetime, window: dt.timedelta, **where) -> list[dt.datetime]:
    """When each outbound e-mail (anyone's) in the window was sent, oldest first."""
    return list(
        Signal.objects.filter(kind=Signal.Kind.EMAIL_SENT, occurred_at__gt=now - window, occurred_at__lte=now, **where)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
    )


def _offered(*, exclude: int | None, **where) -> int:
    return (
        Recommendation.objects.filter(status__in=OFFERED, **where)
        .exclude(action_type__in=internal_action_types())
        .exclude(pk=exclude)
        .count()
    )


def _room_at(sent: list[dt.datetime], busy: int, cap: int, window: dt.timedelta, now: dt.datetime) -> dt.datetime:
    """When one more send fits: enough of the sent e-mails aged out of the window (or, if offers alone
    fill the cap, a day from now: by then people have decided on some of them)."""
    excess = len(sent) + busy + 1 - cap
    if 0 < excess <= len(sent):
        return sent[excess - 1] + window
    return now + DAY


def _check(
    *, label: str, cap: int, window: dt.timedelta, sent: list[dt.datetime], offered: int, now: dt.datetime, scope: str
) -> Hold | None:
    if len(sent) + offered + 1 <= cap:
        return None
    until = _room_at(sent, offered, cap, window, now)
    waiting = f" and {offered} more awaiting a decision or scheduled" if offered else ""
    days = "24 hours" if window == DAY else f"{window.days} days"
    return Hold(
        until=until,
        reason=f"{label} got {len(sent)} e-mail{'s' if len(sent) != 1 else ''} in the last {days}{waiting}; "
        f"the cap is {cap}: back on {until:%a %d %b %H:%M} UTC",
        scope=scope,
    )


def exempt_answer(recommendation: Recommendation, policy: OutreachPolicy, *, by_person: bool | None = None) -> bool:
    """Whether the caps leave ``recommendation`` alone: an answer to its contact's own message that a
    person decides on, while the policy exempts answers. ``by_person`` when the caller knows it, else
    read from the row: awaiting a person, or approved by one (queried only for an answer)."""
    if by_person is False or not policy.answers_exempt or not recommendation.is_answer:
        return False
    return (
        by_person
        or recommendation.status == Recommendation.Status.PENDING
        or latest_approval(recommendation) is not None
    )


def outreach_hold(
    *, recommendation: Recommendation, now: dt.datetime, policy: OutreachPolicy | None = None, count_offers: bool = True,
    by_person: bool = True,
) -> Hold | None:  # fmt: skip
    """Whether offering (or, without ``count_offers``, sending) ``recommendation`` now would break the
    contact's or the account's cap; None when it fits. ``by_person``: a person decides on it (offered to
    a rep, or sent on their approval), so an answer is exempt (:func:`exempt_answer`)."""
    rec = recommendation
    if rec.contact_id is None or rec.is_internal:
        return None
    policy = policy or OutreachPolicy.current()
    if exempt_answer(rec, policy, by_person=by_person):
        return None
    window = dt.timedelta(days=policy.contact_window_days)
    person = rec.contact.display_name if rec.contact else "This contact"
    hold = _check(
        label=person,
        cap=policy.contact_cap,
        window=window,
        sent=_sent(now=now, window=window, contact_id=rec.contact_id),
        offered=_offered(exclude=rec.pk, contact_id=rec.contact_id) if count_offers else 0,
        now=now,
        scope="contact",
    )
    if hold is not None:
        return hold
    return _check(
        label=rec.account.name,
        cap=policy.account_daily_cap,
        window=DAY,
        sent=_sent(now=now, window=DAY, account_id=rec.account_id),
        offered=_offered(exclude=rec.pk, account_id=rec.account_id) if count_offers else 0,
        now=now,
        scope="account",
    )


def admission_hold(*, recommendation: Recommendation, now: dt.datetime) -> Hold | None:
    """Whether ``recommendation`` is held when routed by a contact or account cap. When offers awaiting
    a person are what fills a cap, the lowest of them below this one's priority makes way (held in its
    place): the more urgent recommendation goes to the rep, as the inbox orders them."""
    rec = recommendation
    for _ in range(3):  # at most the contact's and the account's cap to free
        hold = outreach_hold(recommendation=rec, now=now)
        if hold is None:
            return None
        if outreach_hold(recommendation=rec, now=now, count_offers=False) is not None:
            return hold  # e-mails already sent fill it: nothing to make way
        skip = connection.features.has_select_for_update_skip_locked
        lower = (
            Recommendation.objects.select_for_update(skip_locked=skip, of=("self",))
            .select_related("account", "contact")
            .filter(status=Recommendation.Status.PENDING, **{f"{hold.scope}_id": getattr(rec, f"{hold.scope}_id")})
            .filter(priority__lt=rec.priority)
            .exclude(pk=rec.pk)
            .exclude(action_type__in=internal_action_types())
            .order_by("priority", "-created_at", "-pk")
            .first()
        )
        if lower is None:
            return hold
        until = now + DAY
        hold_recommendation(
            recommendation=lower,
            hold=Hold(until=until, reason=f"{hold.reason.split(':')[0]}; a more urgent recommendation took its place: "
                      f"back on {until:%a %d %b %H:%M} UTC"),
            now=now,
        )  # fmt: skip
    return outreach_hold(recommendation=rec, now=now)


def send_hold(*, recommendation: Recommendation, now: dt.datetime, approved: bool) -> Hold | None:
    """At send time: only what was actually sent counts (this one was offered already). ``approved``: a
    person approved it (else salesai sends it on its own, and an answer is capped too)."""
    return outreach_hold(recommendation=recommendation, now=now, count_offers=False, by_person=approved)


def rep_day(*, owner_id: int, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, zoneinfo.ZoneInfo]:
    """The rep's local day around ``now``: its start and the next day's start (UTC), and their zone
    (their profile's, else UTC)."""
    name = RepProfile.objects.filter(user_id=owner_id).values_list("time_zone", flat=True).first()
    zone = zone_named(name) or zoneinfo.ZoneInfo("UTC")
    today = now.astimezone(zone).date()
    start = dt.datetime.combine(today, dt.time(0), tzinfo=zone)
    tomorrow = dt.datetime.combine(today + DAY, dt.time(0), tzinfo=zone)
    return start.astimezone(dt.UTC), tomorrow.astimezone(dt.UTC), zone


def budget_hold(
    *, recommendation: Recommendation, now: dt.datetime, policy: OutreachPolicy | None = None
) -> Hold | None:
    """Whether ``recommendation``, about to enter its owner's inbox, is over their daily budget: at most
    ``rep_daily_budget`` new recommendations enter it per local day (those held since do not count).
    Over it, the lowest priority waits for the next day: this one, or the lowest of today's still
    awaiting the rep when this one is more urgent (that one is held in its place)."""
    rec = recommendation
    owner_id = rec.account.owner_id
    if owner_id is None:
        return None
    policy = policy or OutreachPolicy.current()
    # one routing per rep at a time counts and admits (two analyses at once must not both take the last place)
    get_user_model().objects.select_for_update().filter(pk=owner_id).values_list("pk", flat=True).first()
    start, tomorrow, zone = rep_day(owner_id=owner_id, now=now)
    today = (
        Recommendation.objects.filter(account__owner_id=owner_id, entered_inbox_at__gte=start)
        .exclude(status=Recommendation.Status.HELD)
        .exclude(pk=rec.pk)
    )
    if today.count() < policy.rep_daily_budget:
        return None
    owner = rec.account.owner
    name = person_name(owner)
    back = f"back on {tomorrow.astimezone(zone):%a %d %b}, when their day starts"
    full = f"{policy.rep_daily_budget} new recommendations entered {name}'s inbox today (the daily budget)"
    skip = connection.features.has_select_for_update_skip_locked
    lowest = (
        today.select_for_update(skip_locked=skip, of=("self",))
        .select_related("account", "contact")
        .filter(status=Recommendation.Status.PENDING, priority__lt=rec.priority)
        .order_by("priority", "-entered_inbox_at", "-pk")
        .first()
    )
    if lowest is None:
        return Hold(
            until=tomorrow, reason=f"{full} and this one is among the lowest priorities: {back}", scope="budget"
        )
    hold_recommendation(
        recommendation=lowest,
        hold=Hold(until=tomorrow, reason=f"{full}; a more urgent one took its place: {back}", scope="budget"),
        now=now,
    )
    return None


def hold_recommendation(*, recommendation: Recommendation, hold: Hold, now: dt.datetime) -> Recommendation:
    """Set it aside until ``hold.until`` (an offered send stops; nothing else about it changes)."""
    rec = recommendation
    rec.status = Recommendation.Status.HELD
    rec.held_until, rec.held_reason = hold.until, hold.reason[:300]
    rec.scheduled_for = None
    rec.updated_at = now
    rec.save(update_fields=["status", "held_until", "held_reason", "scheduled_for", "updated_at"])
    audit_record(
        action="recommendation.held",
        reference=f"recommendation:{rec.pk}",
        data={"until": hold.until.isoformat(), "reason": hold.reason},
    )
    return rec


def enforce(*, account_id: int, now: dt.datetime) -> list[Recommendation]:
    """Hold the account's offered sends beyond a cap, lowest priority first (pending before scheduled):
    the rep's own e-mails may have filled it since they were offered. Inside the analysis transaction."""
    policy = OutreachPolicy.current()
    offered = list(
        Recommendation.objects.select_for_update(of=("self",))
        .select_related("account", "contact")
        .filter(account_id=account_id, status__in=OFFERED, contact__isnull=False)
        .exclude(action_type__in=internal_action_types())
        .order_by("-priority", "created_at", "pk")
    )
    if not offered:
        return []
    window = dt.timedelta(days=policy.contact_window_days)
    held: list[Recommendation] = []
    account_sent = _sent(now=now, window=DAY, account_id=account_id)
    by_contact: dict[int, list[dt.datetime]] = {}
    kept_per_contact: dict[int, int] = {}
    kept_account = 0
    # scheduled ones first (a person or autonomy already decided), then by priority
    for rec in sorted(offered, key=lambda r: (r.status != Recommendation.Status.SCHEDULED, -r.priority)):
        sent = by_contact.setdefault(rec.contact_id, _sent(now=now, window=window, contact_id=rec.contact_id))
        kept = kept_per_contact.get(rec.contact_id, 0)
        hold_for = (
            None
            if exempt_answer(rec, policy)
            else _check(
                label=rec.contact.display_name,
                cap=policy.contact_cap,
                window=window,
                sent=sent,
                offered=kept,
                now=now,
                scope="contact",
            )
            or _check(
                label=rec.account.name,
                cap=policy.account_daily_cap,
                window=DAY,
                sent=account_sent,
                offered=kept_account,
                now=now,
                scope="account",
            )
        )
        if hold_for is None:
            kept_per_contact[rec.contact_id] = kept + 1
            kept_account += 1
        else:
            held.append(hold_recommendation(recommendation=rec, hold=hold_for, now=now))
    return held


@transaction.atomic
def policy_save(*, policy: OutreachPolicy, actor=None, changed: Iterable[str] = ()) -> OutreachPolicy:
    """Save the outreach policy (the admin's doorway), with its audit row."""
    policy.save()
    audit_record(
        action="outreach_policy.updated",
        actor=actor,
        reference=f"outreach_policy:{policy.pk}",
        data={name: str(getattr(policy, name)) for name in changed},
    )
    return policy


def release_held(*, now: dt.datetime, route) -> int:
    """Route again the held recommendations whose time has come (highest priority first); routing
    re-checks the caps and the budget. ``route`` is ``review.route_recommendation``.

    One transaction per recommendation: routing locks its owner's row (:func:`budget_hold`), and two
    sweeps each holding several reps' rows, taken in different orders, deadlocked (seen on
    PostgreSQL with two sweeping processes)."""
    skip = connection.features.has_select_for_update_skip_locked
    released = 0
    for _ in range(RELEASE_BATCH):
        with transaction.atomic():
            rec = (
                Recommendation.objects.select_for_update(skip_locked=skip, of=("self",))
                .select_related("account", "contact")
                .filter(status=Recommendation.Status.HELD, held_until__lte=now)
                .order_by("-priority", "held_until", "pk")
                .first()
            )
            if rec is None:
                break
            route(recommendation=rec)
            released += rec.status != Recommendation.Status.HELD
            if rec.status == Recommendation.Status.HELD and rec.held_until is not None and rec.held_until <= now:
                break  # held again until now or earlier: nothing more would change in this sweep
    return released
