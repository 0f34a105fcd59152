"""The live picture of one account: facts read from the ORM in a fixed number of queries, the
features shown on the account page, the scores (0–1, time-decayed) and ``next_check_at``.

Query budget (independent of how many signals an account has): the account, its contacts, active
contracts, open opportunities, goals, one SQL aggregate over all its signals (windowed counts per kind,
distinct active users, newest ids and times), one bounded fetch of the "conversation" signals (e-mail,
forms, meetings, pricing views) in the analysis window with only the columns rules need, and one
aggregate over past recommendations."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal

from django.db.models import Count, Max, Min, Q, Sum

from accounts.models import Account, Contact, Contract, Goal, Opportunity
from recommendations.models import Recommendation
from recommendations.playbooks import Playbook, all_playbooks
from recommendations.playbooks.base import (
    ContactFact,
    ContractFact,
    GoalFact,
    PictureFacts,
    SignalFact,
)
from signals.models import Signal

USAGE_METRICS = {"seat_utilization", "active_users_7d", "usage_events_7d"}
WINDOW_DAYS = 120
MIN_SILENCE = dt.timedelta(
    days=7
)  # below this no account counts as going dark (saves two queries)  # how far back the detailed fetch reads
DETAIL_LIMIT = 600  # newest conversation signals read per analysis, at most
INBOUND_KINDS = ("page_view", "form_submitted", "product_usage", "email_reply", "meeting_booked", "custom")
SUPPRESSING_INTENTS = {
    "unsubscribe": "unsubscribed",
    "not_interested": "replied “not interested”",
    "wrong_person": "replied “wrong person”",
}
# kind → (weight, half-life in days) for the engagement score; buckets are (start, end) days ago
ENGAGEMENT_WEIGHTS = {
    "page_view": 1.0,
    "product_usage": 0.3,
    "email_reply": 4.0,
    "form_submitted": 5.0,
    "meeting_booked": 6.0,
    "custom": 0.5,
}
BUCKETS = ((0, 7), (7, 14), (14, 28), (28, 56), (56, 120))
ENGAGEMENT_HALF_LIFE = 14.0
INTENT_HALF_LIFE = 7.0


def _referral_label(referral) -> str:
    """``{"name": "Sam Ortiz", "email": "sam@acme.com"}`` → ``Sam Ortiz <sam@acme.com>``."""
    if isinstance(referral, dict):
        name, email = str(referral.get("name") or "").strip(), str(referral.get("email") or "").strip()
        return f"{name} <{email}>" if name and email else name or email
    return str(referral or "")


def _parse_time(value) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    if len(value) == 10:  # a date alone: check in that morning
        try:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(9), tzinfo=dt.UTC)
        except ValueError:
            return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(9), tzinfo=dt.UTC)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _decay(age_days: float, half_life: float) -> float:
    return 0.5 ** (max(age_days, 0.0) / half_life)


def _squash(x: float, scale: float) -> float:
    return round(min(1.0, max(0.0, 1.0 - math.exp(-x / scale))), 4)


def pricing_paths(configs: Mapping[str, dict]) -> list[str]:
    from recommendations.playbooks import get_playbook

    params = get_playbook("pricing_interest").params(configs.get("pricing_interest", {}).get("params"))
    return [str(p).lower() for p in params.get("path_contains") or ["/pricing"]]


def build_facts(*, account: Account, now: dt.datetime, configs: Mapping[str, dict] | None = None) -> PictureFacts:
    """Everything the rules read about ``account`` as of ``now``, in a fixed number of queries."""
    configs = configs or {}
    contacts = tuple(
        ContactFact(
            id=c["id"],
            name=c["name"],
            email=c["email"],
            seniority=c["seniority"],
            title=c["title"],
            do_not_contact=c["do_not_contact"],
            do_not_contact_reason=c["do_not_contact_reason"],
        )
        for c in Contact.objects.filter(account=account)
        .order_by("id")
        .values("id", "name", "email", "seniority", "title", "do_not_contact", "do_not_contact_reason")
    )
    contracts = tuple(
        ContractFact(id=c["id"], value=c["value"], renewal_date=c["renewal_date"], status=c["status"])
        for c in Contract.objects.filter(account=account, status=Contract.Status.ACTIVE)
        .order_by("renewal_date", "id")
        .values("id", "value", "renewal_date", "status")
        if c["renewal_date"] >= now.date() - dt.timedelta(days=1)
    )
    opportunity_amount = Opportunity.objects.filter(account=account).exclude(
        stage__in=[Opportunity.Stage.WON, Opportunity.Stage.LOST]
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    goals = tuple(
        GoalFact(
            id=g["id"],
            name=g["name"],
            metric=g["metric"],
            comparator=g["comparator"],
            threshold=g["threshold"],
            is_met=g["is_met"],
            crossings=g["crossings"],
            last_crossed_at=g["last_crossed_at"],
        )
        for g in Goal.objects.filter(account=account, active=True)
        .order_by("id")
        .values("id", "name", "metric", "comparator", "threshold", "is_met", "crossings", "last_crossed_at")
    )

    # one aggregate over every signal of the account: windowed counts per kind, newest activity
    signals = Signal.objects.filter(account=account, occurred_at__lte=now)
    # (1) counts per kind and age bucket, grouped in SQL: a handful of rows however many signals
    buckets: dict[str, list[int]] = {}
    for row in (
        signals.filter(occurred_at__gt=now - dt.timedelta(days=BUCKETS[-1][1]), kind__in=INBOUND_KINDS)
        .values("kind")
        .annotate(
            **{
                f"b{n}": Count(
                    "id",
                    filter=Q(
                        occurred_at__gt=now - dt.timedelta(days=end),
                        occurred_at__lte=now - dt.timedelta(days=start),
                    ),
                )
                for n, (start, end) in enumerate(BUCKETS)
            }
        )
        .order_by()
    ):
        buckets[row["kind"]] = [row[f"b{n}"] for n in range(len(BUCKETS))]
    usage = buckets.get("product_usage", [0] * len(BUCKETS))
    week = Q(kind="product_usage", occurred_at__gt=now - dt.timedelta(days=7))
    # (2) the newest activity and the 7-day product-usage figures
    agg = signals.aggregate(
        last_activity_at=Max("occurred_at", filter=Q(kind__in=INBOUND_KINDS) & ~Q(is_auto_reply=True)),
        active_users_7d=Count("user_id", distinct=True, filter=week & ~Q(user_id="")),
        active_contacts_7d=Count("contact_id", distinct=True, filter=week & Q(user_id="")),
        oldest_usage_7d=Min("occurred_at", filter=week),
    )
    agg["usage_7d"], agg["usage_prev_7d"], agg["usage_28d"] = usage[0], usage[1], sum(usage[:3])
    agg["inbound_28d"] = sum(sum(counts[:3]) for counts in buckets.values())

    last_activity_at = agg["last_activity_at"]
    # recent activity: the last 28 days stand in for "the 4 weeks before the silence" (exact once quiet)
    activity_before_silence = agg["inbound_28d"]
    last_activity_signal_id = None
    if last_activity_at is not None and now - last_activity_at >= MIN_SILENCE:
        # only for a quiet account (going dark): the newest inbound signal, and the 28 days before it
        last_activity_signal_id = (
            signals.filter(kind__in=INBOUND_KINDS, occurred_at=last_activity_at)
            .exclude(is_auto_reply=True)
            .values_list("id", flat=True)
            .first()
        )
        activity_before_silence = signals.filter(
            kind__in=INBOUND_KINDS,
            occurred_at__gt=last_activity_at - dt.timedelta(days=28),
            occurred_at__lte=last_activity_at,
        ).count()

    # the bounded detail fetch: conversation signals and pricing views in the window, newest first
    paths = pricing_paths(configs)
    pricing_q = Q()
    for p in paths:
        pricing_q |= Q(properties__path__icontains=p) | Q(properties__url__icontains=p)
    rows = list(
        signals.filter(occurred_at__gt=now - dt.timedelta(days=WINDOW_DAYS))
        .filter(
            Q(kind__in=["email_sent", "email_reply", "email_bounced", "form_submitted", "meeting_booked"])
            | (Q(kind="page_view") & pricing_q)
        )
        .order_by("-occurred_at", "-id")
        .values(
            "id",
            "kind",
            "name",
            "occurred_at",
            "contact_id",
            "intent",
            "intent_confidence",
            "sentiment",
            "is_auto_reply",
            "in_reply_to_id",
            "properties",
        )[:DETAIL_LIMIT]
    )
    rows.reverse()
    by_kind: dict[str, list[SignalFact]] = {}
    for r in rows:
        props = r["properties"] if isinstance(r["properties"], dict) else {}
        path = str(props.get("path") or props.get("url") or "")
        if r["kind"] == "page_view" and not any(p in path.lower() for p in paths):
            continue
        by_kind.setdefault(r["kind"], []).append(
            SignalFact(
                id=r["id"],
                kind=r["kind"],
                occurred_at=r["occurred_at"],
                contact_id=r["contact_id"],
                name=r["name"] or str(props.get("form") or props.get("event") or ""),
                path=str(props.get("path") or path),
                intent=r["intent"],
                intent_confidence=r["intent_confidence"],
                sentiment=r["sentiment"],
                is_auto_reply=r["is_auto_reply"],
                in_reply_to_id=r["in_reply_to_id"],
                check_in_at=_parse_time(props.get("check_in_at")),
                subject=str(props.get("subject") or "")[:200],
                referral=_referral_label(props.get("referral"))[:200],
            )
        )
    replies = tuple(by_kind.get("email_reply", ()))

    # suppression: the do-not-contact flag, or the contact's own words
    suppressed: dict[int, str] = {}
    for c in contacts:
        if c.do_not_contact:
            suppressed[c.id] = f"do not contact{': ' + c.do_not_contact_reason if c.do_not_contact_reason else ''}"
    for r in replies:
        if r.contact_id and not r.is_auto_reply and r.intent in SUPPRESSING_INTENTS:
            suppressed.setdefault(r.contact_id, f"{SUPPRESSING_INTENTS[r.intent]} on {r.occurred_at:%d %b %Y}")
    for b in by_kind.get("email_bounced", ()):
        # A bounced address cannot be reached by e-mail; outreach to it would bounce again.
        if b.contact_id:
            suppressed.setdefault(b.contact_id, f"e-mail bounced on {b.occurred_at:%d %b %Y}")

    last_actioned = {
        row["action_type"]: row["last"]
        for row in Recommendation.objects.filter(
            account=account, status__in=[Recommendation.Status.EXECUTED, Recommendation.Status.REJECTED]
        )
        .values("action_type")
        .annotate(last=Max("updated_at"))
    }

    # scores
    engagement_raw = intent_raw = 0.0
    for kind, weight in ENGAGEMENT_WEIGHTS.items():
        for (start, end), n in zip(BUCKETS, buckets.get(kind, ()), strict=False):
            if n:
                engagement_raw += weight * n * _decay((start + end) / 2, ENGAGEMENT_HALF_LIFE)
    for group in ("form_submitted", "page_view", "email_reply"):
        for s in by_kind.get(group, ()):
            age = (now - s.occurred_at).total_seconds() / 86400
            if group == "form_submitted":
                w = 5.0
            elif group == "page_view":
                w = 1.5
            elif s.is_auto_reply:
                w = 0.0
            else:
                w = {"interested": 4.0, "question": 2.5, "referral": 1.5, "objection": 1.0}.get(s.intent, 0.0)
            intent_raw += w * _decay(age, INTENT_HALF_LIFE)
    engagement = _squash(engagement_raw, 12.0)
    intent = _squash(intent_raw, 6.0)
    active_users = (agg["active_users_7d"] or 0) + (agg["active_contacts_7d"] or 0)
    seat_utilization = round(active_users / account.seats, 4) if account.seats else None
    usage_7d, usage_prev = agg["usage_7d"], agg["usage_prev_7d"]
    risk_raw = 0.0
    if contracts:
        days = (contracts[0].renewal_date - now.date()).days
        proximity = max(0.0, min(1.0, 1 - days / 120))
        risk_raw += proximity * (1 - engagement)
    if usage_prev and usage_7d < usage_prev:
        risk_raw += 0.4 * (1 - usage_7d / usage_prev)
    negative = [r for r in replies if not r.is_auto_reply and (r.sentiment or 0) <= -0.3]
    risk_raw += 0.2 * min(len(negative), 2)
    risk = round(min(1.0, max(0.0, risk_raw)), 4)

    metrics = {
        "seat_utilization": seat_utilization,
        "active_users_7d": float(active_users),
        "usage_events_7d": float(usage_7d),
        "pricing_visits_7d": float(
            sum(1 for v in by_kind.get("page_view", ()) if v.occurred_at > now - dt.timedelta(days=7))
        ),
        "engagement_score": engagement,
    }
    return PictureFacts(
        account_id=account.pk,
        account_name=account.name,
        domain=account.domain,
        as_of=now,
        arr=account.arr or Decimal("0"),
        seats=account.seats,
        segment=account.segment,
        strategic=account.strategic,
        open_opportunity_amount=opportunity_amount,
        contacts=contacts,
        suppressed=suppressed,
        pricing_visits=tuple(by_kind.get("page_view", ())),
        emails_sent=tuple(by_kind.get("email_sent", ())),
        replies=replies,
        forms=tuple(by_kind.get("form_submitted", ())),
        meetings=tuple(by_kind.get("meeting_booked", ())),
        contracts=contracts,
        goals=goals,
        metrics=metrics,
        usage_events_7d=usage_7d,
        usage_events_28d=agg["usage_28d"],
        usage_events_prev_7d=usage_prev,
        active_users_7d=active_users,
        inbound_signals_28d=agg["inbound_28d"],
        last_activity_at=last_activity_at,
        last_activity_signal_id=last_activity_signal_id,
        activity_before_silence=activity_before_silence,
        engagement_score=engagement,
        intent_score=intent,
        risk_score=risk,
        last_actioned=last_actioned,
        oldest_usage_7d=agg["oldest_usage_7d"],
    )


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value else None


def features_of(facts: PictureFacts, now: dt.datetime) -> dict:
    """The JSON stored on the picture (and shown on the account page and in the API)."""
    from recommendations.playbooks import unanswered_outreach

    pricing_7d = [v for v in facts.pricing_visits if v.occurred_at > now - dt.timedelta(days=7)]
    humans = facts.human_replies()
    last_reply = humans[-1] if humans else None
    contract = facts.active_contract()
    threads = unanswered_outreach.threads(facts, unanswered_outreach.PLAYBOOK.params())
    trend = None
    if facts.usage_events_prev_7d:
        trend = round((facts.usage_events_7d - facts.usage_events_prev_7d) / facts.usage_events_prev_7d, 3)
    return {
        "pricing_visits_7d": len(pricing_7d),
        "pricing_first_at": _iso(pricing_7d[0].occurred_at) if pricing_7d else None,
        "pricing_last_at": _iso(pricing_7d[-1].occurred_at) if pricing_7d else None,
        "last_reply": (
            {
                "signal_id": last_reply.id,
                "contact_id": last_reply.contact_id,
                "contact_name": facts.contact_name(last_reply.contact_id),
                "intent": last_reply.intent,
                "sentiment": last_reply.sentiment,
                "at": _iso(last_reply.occurred_at),
            }
            if last_reply
            else None
        ),
        "unanswered_outreach": [
            {
                "contact_id": t.contact_id,
                "contact_name": facts.contact_name(t.contact_id),
                "since": _iso(t.attempts[0].occurred_at),
                "last_sent_at": _iso(t.attempts[-1].occurred_at),
                "attempts": len(t.attempts),
                "overdue_at": _iso(t.due),
                "last_signal_id": t.attempts[-1].id,
            }
            for t in threads
        ],
        "renewal": (
            {
                "contract_id": contract.id,
                "value": str(contract.value),
                "renewal_date": _iso(contract.renewal_date),
                "days_to_renewal": (contract.renewal_date - now.date()).days,
            }
            if contract
            else None
        ),
        "days_to_renewal": (contract.renewal_date - now.date()).days if contract else None,
        "usage_events_7d": facts.usage_events_7d,
        "usage_events_28d": facts.usage_events_28d,
        "usage_events_prev_7d": facts.usage_events_prev_7d,
        "usage_trend": trend,
        "active_users_7d": facts.active_users_7d,
        "seat_utilization": facts.metrics.get("seat_utilization"),
        "inbound_signals_28d": facts.inbound_signals_28d,
        "last_activity_at": _iso(facts.last_activity_at),
        "suppressed": [
            {"contact_id": cid, "contact_name": facts.contact_name(cid), "reason": reason}
            for cid, reason in sorted(facts.suppressed.items())
        ],
        "open_opportunity_amount": str(facts.open_opportunity_amount),
    }


def next_check_of(
    facts: PictureFacts, now: dt.datetime, playbooks: list[tuple[Playbook, dict]] | None = None
) -> dt.datetime | None:
    """The earliest future instant at which something time-based may change for this account: a rule's
    answer (outreach overdue, a renewal window, a burst ageing out, a check-in date, going dark …) or a
    windowed feature (the 7-day pricing count)."""
    if playbooks is None:
        playbooks = [(p, {}) for p in all_playbooks()]
    moments = []
    for playbook, params in playbooks:
        if playbook.next_check:
            moment = playbook.next_check(facts, now, params)
            if moment is not None and moment > now:
                moments.append(moment)
    pricing_7d = [v for v in facts.pricing_visits if v.occurred_at > now - dt.timedelta(days=7)]
    if pricing_7d:
        moments.append(pricing_7d[0].occurred_at + dt.timedelta(days=7))
    if facts.oldest_usage_7d and any(g.metric in USAGE_METRICS for g in facts.goals):
        # a usage goal's metric changes when the oldest event of its 7-day window ages out
        moments.append(facts.oldest_usage_7d + dt.timedelta(days=7))
    moments = [m for m in moments if m > now]
    return min(moments) if moments else None
