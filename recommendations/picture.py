"""The live picture of one account: facts read from the database in a fixed number of queries, the
features shown on the account page, the scores (0–1, time-decayed) and ``next_check_at``.

Query budget (independent of how many signals an account has): its contacts, active contracts, open
opportunities and goals; one aggregate over all its signals grouped by kind (windowed counts, distinct
active users, newest id and time); one bounded fetch of the "conversation" signals (e-mail, forms,
meetings, and the page views playbooks read) in the analysis window, with only the columns and JSON
keys rules need; one aggregate over past recommendations; and, for a quiet account only, one small
query about its silence. Analysis runs on every signal, so these reads are the plain SQL of
``recommendations.queries``; this module turns their rows into the rules' facts."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal

from accounts.models import Account
from recommendations import deal_facts, queries
from recommendations.models import Recommendation
from recommendations.playbooks import Playbook, all_playbooks, pricing_interest, unanswered_outreach
from recommendations.playbooks.base import PictureFacts, SignalFact, views_at
from salesai import sql

USAGE_METRICS = {"seat_utilization", "active_users_7d", "usage_events_7d"}
# At most this stale: the 7-day usage figures of a quiet account with "≥" usage goals (every usage
# signal refreshes them anyway, so this only wakes accounts whose product use stopped).
USAGE_REFRESH = dt.timedelta(hours=24)
WINDOW_DAYS = 120  # how far back the detailed fetch reads
MIN_SILENCE = dt.timedelta(days=7)  # below this no account counts as going dark (saves a query)
SILENCE_LOOKBACK = dt.timedelta(days=28)  # "activity before the silence": inbound signals in this long before it
DETAIL_LIMIT = 600  # newest conversation signals read per analysis, at most
INBOUND_KINDS = ("page_view", "form_submitted", "product_usage", "email_reply", "meeting_booked", "custom")
CONVERSATION_KINDS = ("email_sent", "email_reply", "email_bounced", "form_submitted", "meeting_booked")
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
    if isinstance(referral, str):
        with contextlib.suppress(ValueError):
            referral = sql.json_value(referral)  # plain SQL reads the JSON text of the property
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


def playbook_settings() -> dict[str, dict]:
    """code → {"enabled", "params"} from the admin's PlaybookConfig rows (read on every analysis, so an
    admin's change applies to the very next one; the threshold replay reads them the same way)."""
    return {row.code: {"enabled": row.enabled, "params": row.params} for row in queries.playbook_settings()}


def page_paths(configs: Mapping[str, dict]) -> dict[str, tuple[str, ...]]:
    """Playbook code → the page paths it reads (with the admin's parameters); only playbooks reading pages."""
    paths = {}
    for playbook in all_playbooks():
        declared = playbook.paths(configs.get(playbook.code, {}).get("params"))
        if declared:
            paths[playbook.code] = declared
    return paths


class SignalSummary:
    """The per-kind aggregate over every signal of an account (one query, a handful of rows)."""

    def __init__(self, account_id: int, now: dt.datetime) -> None:
        self.max_signal_id: int | None = None
        self.buckets: dict[str, list[int]] = {}
        self.last_activity_at: dt.datetime | None = None
        self.active_users_7d = self.active_contacts_7d = 0
        self.oldest_usage_7d: dt.datetime | None = None
        for row in queries.signal_summary(account_id=account_id, now=now, buckets=BUCKETS):
            self.max_signal_id = max(self.max_signal_id or 0, row.max_id)
            if row.kind in INBOUND_KINDS:
                self.buckets[row.kind] = list(row.counts)
                if row.last_human_at and (self.last_activity_at is None or row.last_human_at > self.last_activity_at):
                    self.last_activity_at = row.last_human_at
            if row.kind == "product_usage":
                self.active_users_7d, self.active_contacts_7d = row.users_7d, row.contacts_7d
                self.oldest_usage_7d = row.oldest_7d


def _conversation(account_id: int, now: dt.datetime, paths: tuple[str, ...]) -> dict[str, list[SignalFact]]:
    """Conversation signals and the page views playbooks read, in the window, oldest first, by kind."""
    rows = queries.conversation(
        account_id=account_id,
        now=now,
        since=now - dt.timedelta(days=WINDOW_DAYS),
        kinds=CONVERSATION_KINDS,
        page_paths=paths,
        limit=DETAIL_LIMIT,
    )
    by_kind: dict[str, list[SignalFact]] = {}
    for row in rows:
        where = str(row.path or row.url or "")
        if row.kind == "page_view" and not any(p in where.lower() for p in paths):
            continue
        by_kind.setdefault(row.kind, []).append(
            SignalFact(
                id=row.id,
                kind=row.kind,
                occurred_at=row.occurred_at,
                contact_id=row.contact_id,
                name=row.name or str(row.form or row.event or ""),
                path=str(row.path or where),
                intent=row.intent,
                intent_confidence=row.intent_confidence,
                sentiment=row.sentiment,
                is_auto_reply=row.is_auto_reply,
                in_reply_to_id=row.in_reply_to_id,
                check_in_at=_parse_time(row.check_in_at),
                subject=str(row.subject or "")[:200],
                referral=_referral_label(row.referral)[:200],
                effect_withheld=bool(row.effect_withheld),
            )
        )
    return by_kind


def build_facts(*, account: Account, now: dt.datetime, configs: Mapping[str, dict] | None = None) -> PictureFacts:
    """Everything the rules read about ``account`` as of ``now``, in a fixed number of queries."""
    configs = configs or {}
    records = queries.account_records(account_id=account.pk, renewals_from=now.date() - dt.timedelta(days=1))
    contacts, contracts = records.contacts, records.contracts
    summary = SignalSummary(account.pk, now)
    buckets = summary.buckets
    usage = buckets.get("product_usage", [0] * len(BUCKETS))
    usage_7d, usage_prev, usage_28d = usage[0], usage[1], sum(usage[:3])
    inbound_28d = sum(sum(counts[:3]) for counts in buckets.values())

    last_activity_at = summary.last_activity_at
    # recent activity: the last 28 days stand in for "the 4 weeks before the silence" (exact once quiet)
    activity_before_silence = inbound_28d
    last_activity_signal_id = active_days_before_silence = None
    if last_activity_at is not None and now - last_activity_at >= MIN_SILENCE:
        # only for a quiet account (going dark): the newest inbound signal, and the 28 days before it
        quiet = queries.silence(
            account_id=account.pk, kinds=INBOUND_KINDS, last_activity_at=last_activity_at, before=SILENCE_LOOKBACK
        )
        last_activity_signal_id, activity_before_silence = quiet.last_signal_id, quiet.activity_before
        active_days_before_silence = quiet.active_days

    paths = page_paths(configs)
    by_kind = _conversation(account.pk, now, tuple(dict.fromkeys(p for read in paths.values() for p in read)))
    page_views = tuple(by_kind.pop("page_view", ()))
    pricing_visits = views_at(page_views, paths.get(pricing_interest.CODE, ()))
    if pricing_visits:
        by_kind["page_view"] = list(pricing_visits)  # the intent score weighs pricing views, not other pages
    replies = tuple(by_kind.get("email_reply", ()))

    # suppression: the do-not-contact flag, or the contact's own words
    suppressed: dict[int, str] = {}
    for c in contacts:
        if c.do_not_contact:
            suppressed[c.id] = f"do not contact{': ' + c.do_not_contact_reason if c.do_not_contact_reason else ''}"
    # An e-mail whose sender could not be verified is kept with its intent, but what it asked for
    # (stop writing to this person) was withheld at ingestion: a forger must not silence a contact.
    for r in replies:
        if r.contact_id and not r.is_auto_reply and not r.effect_withheld and r.intent in SUPPRESSING_INTENTS:
            suppressed.setdefault(r.contact_id, f"{SUPPRESSING_INTENTS[r.intent]} on {r.occurred_at:%d %b %Y}")
    for b in by_kind.get("email_bounced", ()):
        # A bounced address cannot be reached by e-mail; outreach to it would bounce again.
        if b.contact_id and not b.effect_withheld:
            suppressed.setdefault(b.contact_id, f"e-mail bounced on {b.occurred_at:%d %b %Y}")

    last_actioned: dict[str, dt.datetime] = {}
    decided_keys: set[str] = set()
    for closed in queries.closed_recommendations(account_id=account.pk):
        if closed.last_updated_at is not None and closed.last_updated_at > now:
            continue  # decided after ``now``: a picture as of a past moment (a replay) has not seen it
        decided_keys.add(closed.dedupe_key)
        if closed.status in (Recommendation.Status.EXECUTED, Recommendation.Status.REJECTED):
            last = closed.last_updated_at
            if closed.action_type not in last_actioned or last > last_actioned[closed.action_type]:
                last_actioned[closed.action_type] = last

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
    active_users = summary.active_users_7d + summary.active_contacts_7d
    seat_utilization = round(active_users / account.seats, 4) if account.seats else None
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
        "pricing_visits_7d": float(sum(1 for v in pricing_visits if v.occurred_at > now - dt.timedelta(days=7))),
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
        open_opportunity_amount=records.open_opportunity_amount,
        contacts=contacts,
        suppressed=suppressed,
        pricing_visits=pricing_visits,
        page_views=page_views,
        emails_sent=tuple(by_kind.get("email_sent", ())),
        replies=replies,
        forms=tuple(by_kind.get("form_submitted", ())),
        meetings=tuple(by_kind.get("meeting_booked", ())),
        contracts=contracts,
        goals=records.goals,
        metrics=metrics,
        usage_events_7d=usage_7d,
        usage_events_28d=usage_28d,
        usage_events_prev_7d=usage_prev,
        active_users_7d=active_users,
        inbound_signals_28d=inbound_28d,
        last_activity_at=last_activity_at,
        last_activity_signal_id=last_activity_signal_id,
        activity_before_silence=activity_before_silence,
        active_days_before_silence=active_days_before_silence,
        engagement_score=engagement,
        intent_score=intent,
        risk_score=risk,
        last_actioned=last_actioned,
        decided_keys=frozenset(decided_keys),
        oldest_usage_7d=summary.oldest_usage_7d,
        max_signal_id=summary.max_signal_id,
        deals=(deals := deal_facts.open_deals(account_id=account.pk)),
        stage_norms=deal_facts.stage_norms() if deals else {},
        bounces=tuple(by_kind.get("email_bounced", ())),
    )


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value else None


def features_of(facts: PictureFacts, now: dt.datetime) -> dict:
    """The JSON stored on the picture (and shown on the account page and in the API)."""
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
    usage_goals = [g for g in facts.goals if g.metric in USAGE_METRICS]
    if facts.oldest_usage_7d and usage_goals:
        # a usage metric falls each time the oldest event of its 7-day window ages out (for an active
        # product that is every hour or so): that can cross a "≤" goal without any new signal, so such a
        # goal is checked at once; a "≥" goal only falls back (re-arms), which can wait for the daily
        # USAGE_REFRESH that also keeps a quiet account's 7-day figures fresh
        ageing = facts.oldest_usage_7d + dt.timedelta(days=7)
        if any(g.comparator == "lte" for g in usage_goals):
            moments.append(ageing)
        else:
            moments.append(max(ageing, now + USAGE_REFRESH))
    moments = [m for m in moments if m > now]
    return min(moments) if moments else None
