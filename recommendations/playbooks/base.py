"""The pure vocabulary of playbooks: the facts a rule reads and the finding it returns.

Everything here is a frozen dataclass built from the database *outside* the rules
(``recommendations.picture.build_facts``), so a rule is a plain function of ``(facts, now)`` and its
tests need no database (CONVENTIONS.md 9)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

MET: Literal["met"] = "met"
NOT_MET: Literal["not_met"] = "not_met"
UNKNOWN: Literal["unknown"] = "unknown"
CriterionState = Literal["met", "not_met", "unknown"]

SENIORITY_RANK = {"c_level": 5, "vp": 4, "director": 3, "manager": 2, "individual": 1, "unknown": 0}


@dataclass(frozen=True)
class ContactFact:
    id: int
    name: str
    email: str
    seniority: str = "unknown"
    title: str = ""
    do_not_contact: bool = False
    do_not_contact_reason: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def first_name(self) -> str:
        return self.display_name.split()[0] if self.display_name else ""


@dataclass(frozen=True)
class SignalFact:
    """One stored signal, reduced to what rules need."""

    id: int
    kind: str
    occurred_at: dt.datetime
    contact_id: int | None = None
    name: str = ""
    path: str = ""
    intent: str = ""
    intent_confidence: float | None = None
    sentiment: float | None = None
    is_auto_reply: bool = False
    in_reply_to_id: int | None = None
    check_in_at: dt.datetime | None = None
    subject: str = ""
    referral: str = ""
    # ingestion kept the e-mail but did not apply what it asked for (its sender was not verified)
    effect_withheld: bool = False


@dataclass(frozen=True)
class ContractFact:
    id: int
    value: Decimal
    renewal_date: dt.date
    status: str = "active"


@dataclass(frozen=True)
class GoalFact:
    id: int
    name: str
    metric: str
    comparator: str
    threshold: float
    is_met: bool
    crossings: int
    last_crossed_at: dt.datetime | None = None

    def holds_for(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.threshold if self.comparator == "gte" else value <= self.threshold


@dataclass(frozen=True)
class DealFact:
    """One open opportunity of the account, with what its history says (``accounts.OpportunityChange``)."""

    id: int
    name: str
    stage: str
    amount: Decimal = Decimal("0")
    status: str = "open"
    close_date: dt.date | None = None
    stage_changed_at: dt.datetime | None = None
    opened_at: dt.datetime | None = None  # the first time the deal was seen (created or first stage)
    contact_ids: tuple[int, ...] = ()  # the deal's people, in the order the CRM linked them
    # each time the close date moved later: (when it moved, from, to), oldest first
    close_date_pushes: tuple[tuple[dt.datetime, dt.date, dt.date], ...] = ()

    def days_in_stage(self, now: dt.datetime) -> int | None:
        return (now - self.stage_changed_at).days if self.stage_changed_at else None


def check_in_due(reply: SignalFact, default_days: int) -> dt.datetime:
    """When a "not now" reply asks us to check in: the date it named, else ``default_days`` after it."""
    return reply.check_in_at or reply.occurred_at + dt.timedelta(days=default_days)


@dataclass(frozen=True)
class PictureFacts:
    """What analysis knows about one account at ``as_of`` (time-ordered tuples, oldest first)."""

    account_id: int
    account_name: str
    domain: str
    as_of: dt.datetime
    arr: Decimal = Decimal("0")
    seats: int | None = None
    segment: str = ""
    strategic: bool = False
    open_opportunity_amount: Decimal = Decimal("0")
    contacts: tuple[ContactFact, ...] = ()
    # contact id → why we must not reach out (do_not_contact, unsubscribe, not_interested, wrong_person)
    suppressed: Mapping[int, str] = field(default_factory=dict)
    pricing_visits: tuple[SignalFact, ...] = ()  # pricing page views in the analysis window
    # page views in the analysis window at any path a playbook reads (``Playbook.page_paths``): see views_at
    page_views: tuple[SignalFact, ...] = ()
    emails_sent: tuple[SignalFact, ...] = ()
    replies: tuple[SignalFact, ...] = ()  # e-mail replies (auto-replies included, flagged)
    forms: tuple[SignalFact, ...] = ()
    meetings: tuple[SignalFact, ...] = ()
    contracts: tuple[ContractFact, ...] = ()  # active contracts, nearest renewal first
    goals: tuple[GoalFact, ...] = ()
    metrics: Mapping[str, float | None] = field(default_factory=dict)  # Goal.Metric value → current value
    usage_events_7d: int = 0
    usage_events_28d: int = 0
    usage_events_prev_7d: int = 0
    active_users_7d: int = 0
    inbound_signals_28d: int = 0
    last_activity_at: dt.datetime | None = None  # newest inbound signal (anything the account did)
    last_activity_signal_id: int | None = None
    activity_before_silence: int = 0  # inbound signals in the 28 days before last_activity_at
    # the distinct days with one of them (None until the account has been quiet a week: not read before)
    active_days_before_silence: int | None = None
    engagement_score: float = 0.0
    intent_score: float = 0.0
    risk_score: float = 0.0
    # action type → when a recommendation of that type was last executed or rejected
    last_actioned: Mapping[str, dt.datetime] = field(default_factory=dict)
    max_signal_id: int | None = None  # the newest signal of the account when the facts were read
    decided_keys: frozenset[str] = frozenset()  # dedupe keys of the account's closed recommendations
    oldest_usage_7d: dt.datetime | None = None  # the product-usage event that ages out of the 7-day window first
    deals: tuple[DealFact, ...] = ()  # open opportunities, largest first
    # stage → the 75th percentile of days won deals spent in it (only stages with enough won deals)
    stage_norms: Mapping[str, float] = field(default_factory=dict)
    bounces: tuple[SignalFact, ...] = ()  # e-mail bounces in the analysis window

    # --- helpers rules share -------------------------------------------------------------------
    def contact(self, contact_id: int | None) -> ContactFact | None:
        for c in self.contacts:
            if c.id == contact_id:
                return c
        return None

    def contact_name(self, contact_id: int | None) -> str:
        c = self.contact(contact_id)
        return c.display_name if c else "someone"

    def reachable(self, contact_id: int | None) -> bool:
        return contact_id is not None and contact_id not in self.suppressed

    def best_contact(self, *, prefer: tuple[int | None, ...] = (), exclude: tuple[int, ...] = ()) -> int | None:
        """The preferred contacts first (if reachable), else the most senior reachable contact."""
        for cid in prefer:
            if cid is not None and self.reachable(cid) and cid not in exclude:
                return cid
        candidates = [c for c in self.contacts if self.reachable(c.id) and c.id not in exclude]
        if not candidates:
            return None
        return max(candidates, key=lambda c: (SENIORITY_RANK.get(c.seniority, 0), -c.id)).id

    def views_at(self, paths: Iterable[str]) -> tuple[SignalFact, ...]:
        """The page views whose path (or URL) contains one of ``paths``, case-folded."""
        return views_at(self.page_views, paths)

    def human_replies(self) -> tuple[SignalFact, ...]:
        return tuple(r for r in self.replies if not r.is_auto_reply and r.intent != "auto_reply")

    def not_now_until(self, contact_id: int, default_days: int) -> dt.datetime | None:
        """When the contact's "not now" asks us to check in, if their newest human reply is one: the
        date they named, else ``default_days`` after it. Until then their outreach is paused."""
        theirs = [r for r in self.human_replies() if r.contact_id == contact_id]
        if not theirs or theirs[-1].intent != "not_now":
            return None
        return check_in_due(theirs[-1], default_days)

    def active_contract(self) -> ContractFact | None:
        return self.contracts[0] if self.contracts else None


@dataclass(frozen=True)
class Criterion:
    code: str
    label: str
    state: CriterionState
    evidence: tuple[str, ...] = ()  # evidence refs: "signal:12", "contract:3", "goal:4"

    def as_dict(self) -> dict:
        return {"code": self.code, "label": self.label, "state": self.state, "evidence": list(self.evidence)}


@dataclass(frozen=True)
class EvidenceItem:
    """A dated fact a person can check: a stored signal or a named record, and one concrete sentence."""

    statement: str
    kind: str
    occurred_at: dt.datetime | None = None
    signal_id: int | None = None
    fact_type: str = ""
    fact_id: int | None = None
    weight: float = 1.0

    @property
    def ref(self) -> str:
        return f"signal:{self.signal_id}" if self.signal_id else f"{self.fact_type}:{self.fact_id}"


@dataclass(frozen=True)
class Finding:
    """What a playbook concludes. ``summary`` is one clause of the account's story (no full stop)."""

    playbook: str
    code: str
    action_type: str
    title: str
    summary: str
    contact_id: int | None
    criteria: tuple[Criterion, ...]
    evidence: tuple[EvidenceItem, ...]
    urgency: float  # 0–1
    confidence: float  # 0–1
    why_now: str
    counterfactual: str
    expires_at: dt.datetime
    dedupe_key: str
    stakes: Decimal = Decimal("0")
    stated_reason: str = ""
    draft_context: Mapping[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "playbook": self.playbook,
            "code": self.code,
            "action_type": self.action_type,
            "dedupe_key": self.dedupe_key,
            "contact_id": self.contact_id,
            "urgency": round(self.urgency, 3),
            "confidence": round(self.confidence, 3),
            "criteria": [c.as_dict() for c in self.criteria],
            "evidence": [e.ref for e in self.evidence],
        }


def views_at(views: Iterable[SignalFact], paths: Iterable[str]) -> tuple[SignalFact, ...]:
    """The ``views`` whose path (or URL) contains one of ``paths``, case-folded."""
    folded = tuple(p.lower() for p in paths)
    return tuple(v for v in views if any(p in v.path.lower() for p in folded))


# --- formatting shared by rules (concrete dates, counts and amounts) -----------------------------


def earliest_after(moments: Iterable[dt.datetime], now: dt.datetime) -> dt.datetime | None:
    """The soonest of ``moments`` still ahead of ``now`` (for a playbook's ``next_check``), or None."""
    return min((m for m in moments if m > now), default=None)


def fmt_day(when: dt.datetime | dt.date) -> str:
    """``Mon 17 Nov``."""
    return f"{when:%a} {when.day} {when:%b}"


def fmt_date(when: dt.datetime | dt.date) -> str:
    """``17 Nov``."""
    return f"{when.day} {when:%b}"


def fmt_moment(when: dt.datetime) -> str:
    """``Thu 20 Nov 14:02``."""
    return f"{fmt_day(when)} {when:%H:%M}"


def fmt_money(amount: Decimal | float | int) -> str:
    return f"${Decimal(amount):,.0f}"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    """``start`` plus ``days`` working days (Monday–Friday), keeping the time of day."""
    current = start
    added = 0
    while added < days:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


# --- deals: the people of a deal, who of them engaged, who leads it -----------------------------


def deal_people(picture: PictureFacts, deal: DealFact) -> tuple[int, ...]:
    """The deal's people as the CRM linked them; when it linked none, everyone at the account."""
    return deal.contact_ids or tuple(c.id for c in picture.contacts)


NOT_ENGAGING = ("wrong_person", "unsubscribe", "not_interested")


def engagements(picture: PictureFacts) -> tuple[SignalFact, ...]:
    """Times a person at the account engaged, oldest first: a reply of their own (not an auto-reply, not
    a refusal or "wrong person") or a meeting they booked."""
    replies = [r for r in picture.human_replies() if r.intent not in NOT_ENGAGING]
    return tuple(sorted((*replies, *picture.meetings), key=lambda s: (s.occurred_at, s.id)))


def engaged_people(picture: PictureFacts, deal: DealFact, since: dt.datetime) -> tuple[int, ...]:
    """The deal's people who engaged (:func:`engagements`) since ``since``, most recent first."""
    people = set(deal_people(picture, deal))
    engaged: list[int] = []
    for signal in reversed(engagements(picture)):
        if signal.occurred_at >= since and signal.contact_id in people and signal.contact_id not in engaged:
            engaged.append(signal.contact_id)
    return tuple(engaged)


def is_senior(contact: ContactFact | None) -> bool:
    """Director or above: someone who can sign or sponsor."""
    return contact is not None and SENIORITY_RANK.get(contact.seniority, 0) >= SENIORITY_RANK["director"]


def by_seniority(picture: PictureFacts, ids: Iterable[int]) -> list[ContactFact]:
    """The reachable contacts among ``ids``, most senior first (then the oldest record)."""
    found = [c for c in (picture.contact(i) for i in ids) if c is not None and picture.reachable(c.id)]
    return sorted(found, key=lambda c: (-SENIORITY_RANK.get(c.seniority, 0), c.id))


def champion_of(picture: PictureFacts, deal: DealFact) -> int | None:
    """The deal's main contact: the first person the CRM linked to it (its primary contact role); when it
    linked none, the person at the account who engaged most often (:func:`engagements`)."""
    if deal.contact_ids:
        return deal.contact_ids[0]
    counts: dict[int, int] = {}
    for signal in engagements(picture):
        if signal.contact_id is not None:
            counts[signal.contact_id] = counts.get(signal.contact_id, 0) + 1
    return max(counts, key=lambda cid: (counts[cid], -cid)) if counts else None


def stage_label(stage: str) -> str:
    return stage.replace("_", " ").capitalize()
