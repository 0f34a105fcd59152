"""What the simulated market is made of, and the rules that say when a rep should act.

The vocabulary of the evaluation world, shared by its generator (:mod:`simulation.world`), the
accounts' stories (:mod:`simulation.story`), the driver and the scorer: the hidden buying states and
their daily Markov chains, the business rules that turn a world into moments (stated here once, as
constants), and the plain data types (:class:`World`, :class:`Event`, :class:`Moment`). Pure Python.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

UTC = dt.UTC

PROSPECT_STATES = ("cold", "researching", "evaluating", "ready_to_buy")
CUSTOMER_STATES = ("cold", "at_risk_of_churn", "expanding")
STATES = ("cold", "researching", "evaluating", "ready_to_buy", "at_risk_of_churn", "expanding")

# Daily transition probabilities (rows sum to 1).
PROSPECT_CHAIN: dict[str, dict[str, float]] = {
    "cold": {"cold": 0.96, "researching": 0.04},
    "researching": {"cold": 0.04, "researching": 0.88, "evaluating": 0.08},
    "evaluating": {"cold": 0.02, "researching": 0.04, "evaluating": 0.86, "ready_to_buy": 0.08},
    "ready_to_buy": {"cold": 0.08, "evaluating": 0.04, "ready_to_buy": 0.88},
}
CUSTOMER_CHAIN: dict[str, dict[str, float]] = {
    "cold": {"cold": 0.975, "at_risk_of_churn": 0.0125, "expanding": 0.0125},
    "at_risk_of_churn": {"cold": 0.03, "at_risk_of_churn": 0.97},
    "expanding": {"cold": 0.04, "expanding": 0.96},
}
PROSPECT_START = {"cold": 0.55, "researching": 0.25, "evaluating": 0.14, "ready_to_buy": 0.06}
CUSTOMER_START = {"cold": 0.72, "at_risk_of_churn": 0.14, "expanding": 0.14}

# The rules that make a moment (what a good rep acts on).
PRICING_BURST_VIEWS = 3
FOLLOW_UP_AFTER_BUSINESS_DAYS = 3
SEQUENCE_TOUCHES = 3
RENEWAL_WINDOWS_DAYS = (90, 60, 30)
SEAT_GOAL = 0.8
CHURN_USAGE_DROP = 0.7  # 7-day active users below 70 % of the account's healthy level
DARK_AFTER_DAYS = 21
ENGAGED_DAYS_IN_28 = 4

# How an outreach e-mail is answered, by the hidden state of the day it arrives.
REPLY_PROBABILITY = {"cold": 0.06, "researching": 0.18, "evaluating": 0.35, "ready_to_buy": 0.45}
CUSTOMER_REPLY_PROBABILITY = 0.3
REPLY_MIX: dict[str, dict[str, float]] = {
    "cold": {"not_interested": 0.3, "not_now": 0.2, "unsubscribe": 0.15, "wrong_person": 0.12, "referral": 0.08,
             "question": 0.05, "interested": 0.05, "objection": 0.05},
    "researching": {"interested": 0.2, "question": 0.25, "not_now": 0.2, "objection": 0.1, "referral": 0.08,
                    "not_interested": 0.1, "wrong_person": 0.04, "unsubscribe": 0.03},
}  # fmt: skip
#: Replies after which nobody writes to that person again.
SUPPRESSING_INTENTS = frozenset({"unsubscribe", "not_interested", "wrong_person"})
DEFAULT_REPLY_MIX = {"interested": 0.35, "question": 0.3, "objection": 0.15, "not_now": 0.08, "referral": 0.05,
                     "not_interested": 0.04, "wrong_person": 0.02, "unsubscribe": 0.01}  # fmt: skip

ACCEPTABLE: dict[str, tuple[str, ...]] = {
    "pricing_interest": ("pricing_outreach",),
    "reply_needs_answer": ("reply",),
    "referral": ("reply", "change_contact"),
    "demo_request": ("speed_to_lead",),
    "follow_up_due": ("follow_up",),
    "sequence_exhausted": ("change_contact",),
    "check_in_due": ("check_in",),
    "renewal_window": ("renewal_outreach", "churn_escalation"),
    "churn_risk": ("churn_escalation", "renewal_outreach"),
    "expansion": ("expansion",),
    "going_dark": ("re_engage", "check_in"),
    # deals (simulation.deals)
    "deal_stalling": ("rescue_deal",),
    "deal_slipping": ("rescue_deal",),
    "single_threaded": ("multi_thread",),
    "champion_leaving": ("replace_champion", "multi_thread"),
}
EVENT_DRIVEN = frozenset({"pricing_interest", "reply_needs_answer", "referral", "demo_request", "expansion"})

BOT_USER_AGENTS = (
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0) Mimecast-LinkScanner",
    "Mozilla/5.0 (compatible; ProofpointURLDefense/1.0)",
)
HUMAN_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)


@dataclass(frozen=True)
class SimContact:
    email: str
    name: str
    title: str
    seniority: str
    user_id: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


@dataclass
class SimAccount:
    index: int
    name: str
    domain: str
    rep: str
    segment: str
    arr: int
    customer: bool
    seats: int | None
    contacts: list[SimContact]
    renewal_date: dt.date | None = None
    contract_value: int = 0
    curious: bool = False
    states: list[str] = field(default_factory=list)  # hidden: the state on each simulated day
    deal: object | None = None  # hidden: its open deal (simulation.deals.SimDeal), if any

    @property
    def buyers(self) -> list[SimContact]:
        """The people reps write to (the first few contacts)."""
        return self.contacts[:3]


@dataclass(frozen=True)
class Event:
    """One thing the market sends salesai. ``id`` is the sender's id (Segment messageId, webhook event
    id or e-mail Message-ID): a duplicate delivery repeats it. ``deliver_at`` ≥ ``occurred_at``."""

    id: str
    account: str
    kind: str
    channel: str  # "segment" | "signed" | "email"
    occurred_at: dt.datetime
    deliver_at: dt.datetime
    contact: str = ""
    user_id: str = ""
    name: str = ""
    properties: dict = field(default_factory=dict, hash=False, compare=False)
    subject: str = ""
    body: str = ""
    headers: dict = field(default_factory=dict, hash=False, compare=False)
    in_reply_to: str = ""
    intent: str = ""  # hidden truth for replies
    is_bot: bool = False
    duplicate: bool = False
    late: bool = False

    @property
    def is_pricing_view(self) -> bool:
        return self.kind == "page_view" and self.properties.get("path", "").startswith("/pricing")


@dataclass(frozen=True)
class Moment:
    """A moment the hidden state says a rep should act on.

    A recommendation of one of ``acceptable`` action types for ``account`` that is open at some time in
    ``[opens_at, closes_at]`` surfaces it; latency counts from ``at`` (when the deciding signal was
    delivered, or when time made it due). ``deciding`` are the event ids evidence should cite;
    ``facts`` name records (``contract``) for moments that time, not a signal, decides."""

    id: str
    account: str
    rep: str
    kind: str
    opens_at: dt.datetime
    at: dt.datetime
    closes_at: dt.datetime
    deciding: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()

    @property
    def acceptable(self) -> tuple[str, ...]:
        return ACCEPTABLE[self.kind]

    @property
    def event_driven(self) -> bool:
        return self.kind in EVENT_DRIVEN


@dataclass
class World:
    seed: int
    start: dt.datetime
    days: int
    reps: list[str]
    accounts: list[SimAccount]
    events: list[Event]
    moments: list[Moment]

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(days=self.days)

    def events_by_id(self) -> dict[str, Event]:
        return {e.id: e for e in self.events if not e.duplicate}

    def summary(self) -> dict:
        kinds: dict[str, int] = {}
        for e in self.events:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        moments: dict[str, int] = {}
        for m in self.moments:
            moments[m.kind] = moments.get(m.kind, 0) + 1
        return {
            "accounts": len(self.accounts),
            "customers": sum(a.customer for a in self.accounts),
            "reps": len(self.reps),
            "days": self.days,
            "events": len(self.events),
            "events_by_kind": dict(sorted(kinds.items())),
            "duplicates": sum(e.duplicate for e in self.events),
            "late": sum(e.late for e in self.events),
            "bot_events": sum(e.is_bot for e in self.events),
            "moments": len(self.moments),
            "moments_by_kind": dict(sorted(moments.items())),
        }


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5


def add_business_days(instant: dt.datetime, days: int) -> dt.datetime:
    result = instant
    while days > 0:
        result += dt.timedelta(days=1)
        if is_business_day(result.date()):
            days -= 1
    return result


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
