"""The generator of the evaluation world: accounts with a hidden buying state, the signals it causes,
and the moments at which a good rep should act (the ground truth the scorer compares against).

Pure Python, no database: a :class:`World` is a list of accounts, a list of :class:`Event` (what the
market sends salesai, with when it happened and when it is delivered) and a list of :class:`Moment`
(what should surface). Everything comes from ``random.Random`` instances derived from the seed, so the
same seed gives the same world on every machine.

The hidden state is a Markov chain over days. Prospects move between ``cold``, ``researching``,
``evaluating`` and ``ready_to_buy``; customers between ``cold`` (healthy, quiet), ``at_risk_of_churn``
and ``expanding``. The state drives page views (pricing bursts when evaluating or ready), product usage
(declining at risk, rising when expanding, so seat usage crosses its goal), demo requests, meetings,
how outreach is answered (intent mix by state) and auto-replies. Noise is deliberate: curious visitors
who look at pricing and never buy, e-mail security scanners that "click" every link of an outreach
e-mail (bots), duplicate deliveries (same id), and late, out-of-order deliveries.

The business rules that turn the world into moments (3 pricing views in a session, 3 business days
without an answer, renewal windows at 90/60/30 days, seat usage crossing 80 %, 21 silent days after an
engaged month) are stated here once, as constants.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from simulation import texts
from simulation.demo import FIRST_NAMES

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
_PAGES = [
    "/",
    "/product",
    "/customers",
    "/blog/pipeline-hygiene",
    "/blog/forecasting",
    "/docs/getting-started",
    "/about",
]
_PRICING_PAGES = ["/pricing", "/pricing#business", "/pricing/compare", "/pricing#enterprise"]
_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Hooli",
    "Vandelay",
    "Tyrell",
    "Wonka",
    "Oscorp",
    "Aperture",
    "Monarch",
    "Nakatomi",
    "Sterling",
    "Bluth",
    "Virtucon",
    "Rekall",
    "Weyland",
    "Octan",
    "Soylent",
    "Massive",
    "Cyberdyne",
]
_SUFFIX = ["Labs", "Systems", "Logistics", "Foods", "Health", "Analytics", "Energy", "Trading", "Robotics", "Capital"]
_FIRST = FIRST_NAMES  # the same people as the demo world
_LAST = ["Lee", "Patel", "Garcia", "Nguyen", "Schmidt", "Okafor", "Rossi", "Kim", "Haddad", "Novak", "Silva", "Berg"]
_TITLES = [("VP Operations", "vp"), ("Director of IT", "director"), ("Head of Procurement", "director"),
           ("Operations Manager", "manager"), ("Team Lead", "manager"), ("Analyst", "individual")]  # fmt: skip


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


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def make_accounts(rng: random.Random, *, count: int, reps: list[str], customer_share: float = 0.35) -> list[SimAccount]:
    """Accounts with people, seats and renewal dates. Domains are unique by index."""
    accounts = []
    for index in range(count):
        name = f"{rng.choice(_WORDS)} {rng.choice(_SUFFIX)}"
        domain = f"{name.lower().replace(' ', '-')}-{index:04d}.example"
        customer = rng.random() < customer_share
        segment = rng.choices(["smb", "mid_market", "enterprise"], weights=[5, 4, 1])[0]
        arr = int(
            round({"smb": 12_000, "mid_market": 40_000, "enterprise": 150_000}[segment] * rng.uniform(0.6, 1.6), -3)
        )
        seats = rng.randint(5, 24) if customer else None
        people = rng.randint(2, 4) if not customer else seats + 2
        contacts = []
        for p in range(people):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            title, seniority = _TITLES[p % len(_TITLES)] if p < 3 else ("User", "individual")
            email = f"{first}.{last}.{p}@{domain}".lower()
            contacts.append(SimContact(email, f"{first} {last}", title, seniority, f"u-{index}-{p}"))
        accounts.append(
            SimAccount(
                index=index,
                name=name,
                domain=domain,
                rep=reps[index % len(reps)],
                segment=segment,
                arr=arr if customer else 0,
                customer=customer,
                seats=seats,
                contacts=contacts,
                curious=not customer and rng.random() < 0.15,
            )
        )
    return accounts


class _AccountStory:
    """Plays one account's hidden state forward day by day and writes its events and moments."""

    def __init__(self, world: World, account: SimAccount, seed: int) -> None:
        self.world = world
        self.a = account
        self.rng = random.Random(f"{seed}:{account.index}")
        self.events: list[Event] = []
        self.moments: list[Moment] = []
        self._n = 0
        self.open_until: dict[str, dt.datetime] = {}  # moment kind → closes_at of the open one
        self.suppressed: set[str] = set()
        self.sequence: dict | None = None
        self.activity_days: list[dt.date] = []
        self.dark_reported = False
        self.usage_users: list[tuple[dt.date, set[str]]] = []
        self.usage_level = self.rng.uniform(0.45, 0.68)
        self.healthy_level = self.usage_level
        self.goal_met = False
        self.churn_reported = False

    # -- helpers
    def _id(self) -> str:
        self._n += 1
        return f"sim{self.world.seed}-{self.a.index}-{self._n}"

    def emit(self, kind: str, channel: str, at: dt.datetime, deliver_at: dt.datetime | None = None, **kw) -> Event:
        event = Event(id=kw.pop("id", None) or self._id(), account=self.a.domain, kind=kind, channel=channel,
                      occurred_at=at, deliver_at=deliver_at or at, **kw)  # fmt: skip
        self.events.append(event)
        if not event.is_bot and kind not in ("email_sent",):
            self.activity_days.append(at.date())
        return event

    def duplicate(self, event: Event, after: dt.timedelta) -> None:
        self.events.append(
            Event(**{**{f: getattr(event, f) for f in event.__dataclass_fields__}, "deliver_at": event.deliver_at + after, "duplicate": True})
        )  # fmt: skip

    def moment(self, kind: str, *, at: dt.datetime, opens_at: dt.datetime | None = None, days: float,
               deciding: Iterable[str] = (), facts: Iterable[str] = (), closes_at: dt.datetime | None = None) -> Moment:  # fmt: skip
        m = Moment(
            id=f"m{self.world.seed}-{self.a.index}-{len(self.moments) + 1}",
            account=self.a.domain,
            rep=self.a.rep,
            kind=kind,
            opens_at=opens_at or at,
            at=at,
            closes_at=closes_at or at + dt.timedelta(days=days),
            deciding=tuple(deciding),
            facts=tuple(facts),
        )
        self.moments.append(m)
        self.open_until[kind] = m.closes_at
        return m

    def extend(self, kind: str, *, until: dt.datetime) -> None:
        """Keep the latest open moment of ``kind`` open until ``until`` (the need persists)."""
        for index in range(len(self.moments) - 1, -1, -1):
            if self.moments[index].kind == kind:
                if until > self.moments[index].closes_at:
                    self.moments[index] = replace(self.moments[index], closes_at=until)
                    self.open_until[kind] = until
                return

    def is_open(self, kind: str, at: dt.datetime) -> bool:
        return self.open_until.get(kind, at) > at

    def work_time(self, day: dt.date, start: int = 8, end: int = 18) -> dt.datetime:
        base = dt.datetime.combine(day, dt.time(0), tzinfo=UTC)
        return base + dt.timedelta(seconds=self.rng.randint(start * 3600, end * 3600 - 1))

    # -- the day
    def play(self) -> None:
        a = self.a
        chain, start = (CUSTOMER_CHAIN, CUSTOMER_START) if a.customer else (PROSPECT_CHAIN, PROSPECT_START)
        state = _pick(self.rng, start)
        if a.customer and a.renewal_date is None:
            a.renewal_date = (self.world.start + dt.timedelta(days=self.rng.randint(10, 200))).date()
            a.contract_value = a.arr
        for offset in range(self.world.days):
            day = (self.world.start + dt.timedelta(days=offset)).date()
            if offset:
                state = _pick(self.rng, chain[state])
            a.states.append(state)
            if a.customer:
                self.customer_day(day, state)
            else:
                self.prospect_day(day, state)
            self.check_going_dark(day)

    def prospect_day(self, day: dt.date, state: str) -> None:
        rng = self.rng
        weekend = not is_business_day(day)
        p_session = {
            "cold": 0.15 if self.a.curious else 0.03,
            "researching": 0.35,
            "evaluating": 0.55,
            "ready_to_buy": 0.65,
        }[state]
        if rng.random() < p_session * (0.35 if weekend else 1.0):
            self.web_session(day, state)
        if not weekend:
            p_demo = {"cold": 0.0, "researching": 0.012, "evaluating": 0.03, "ready_to_buy": 0.05}[state]
            if rng.random() < p_demo:
                self.demo_request(day)
            if state in ("evaluating", "ready_to_buy") and rng.random() < 0.03:
                contact = rng.choice(self.a.buyers)
                at = self.work_time(day)
                self.emit("meeting_booked", "signed", at, at + dt.timedelta(seconds=rng.randint(1, 30)),
                          contact=contact.email, properties={"title": "Intro call", "starts_at": (at + dt.timedelta(days=2)).isoformat()})  # fmt: skip
            self.outreach_day(day, state)

    def web_session(self, day: dt.date, state: str) -> None:
        rng = self.rng
        contact = rng.choice(self.a.buyers)
        at = self.work_time(day, 7, 21)
        agent = rng.choice(HUMAN_USER_AGENTS)
        if state in ("evaluating", "ready_to_buy") and rng.random() < (0.55 if state == "evaluating" else 0.75):
            pricing = rng.randint(PRICING_BURST_VIEWS, 5)
        elif state == "researching":
            pricing = 1 if rng.random() < 0.25 else 0
        elif self.a.curious:
            pricing = rng.randint(1, 2)
        else:
            pricing = 1 if state != "cold" and rng.random() < 0.3 else 0
        pages = [rng.choice(_PAGES) for _ in range(rng.randint(1, 3))] + [
            rng.choice(_PRICING_PAGES) for _ in range(pricing)
        ]
        if pricing:
            pages = pages[:1] + pages[-pricing:] + pages[1:-pricing] if len(pages) > pricing else pages
        times = []
        for _ in pages:
            times.append(at)
            at += dt.timedelta(seconds=rng.randint(20, 360))
        flush = times[-1] + dt.timedelta(seconds=rng.randint(1, 10))
        late = rng.random() < 0.04
        if late:
            flush += dt.timedelta(hours=rng.randint(1, 30))
        views = [
            self.emit(
                "page_view",
                "segment",
                t,
                flush,
                contact=contact.email,
                user_id=contact.user_id,
                late=late,
                properties={
                    "path": path,
                    "url": f"https://salesai.example{path}",
                    "title": path.strip("/") or "home",
                    "user_agent": agent,
                },
            )  # fmt: skip
            for t, path in zip(times, pages, strict=True)
        ]
        if rng.random() < 0.03:
            self.duplicate(views[-1], dt.timedelta(minutes=rng.randint(1, 90)))
        pricing_views = [v for v in views if v.is_pricing_view]
        burst = state in ("evaluating", "ready_to_buy") and len(pricing_views) >= PRICING_BURST_VIEWS
        if burst and not self.is_open("pricing_interest", flush):
            self.moment("pricing_interest", at=flush, opens_at=pricing_views[0].occurred_at, days=5,
                        deciding=[v.id for v in pricing_views])  # fmt: skip
        elif burst:  # another burst while nobody has acted: the same moment lasts longer
            self.extend("pricing_interest", until=flush + dt.timedelta(days=5))

    def demo_request(self, day: dt.date) -> None:
        contact = self.rng.choice(self.a.buyers)
        at = self.work_time(day)
        deliver = at + dt.timedelta(seconds=self.rng.randint(1, 20))
        event = self.emit("form_submitted", "segment", at, deliver, contact=contact.email, user_id=contact.user_id,
                          name="Demo Requested", properties={"form": "demo", "email": contact.email, "company": self.a.name})  # fmt: skip
        self.moment("demo_request", at=deliver, days=3, deciding=[event.id])

    def outreach_day(self, day: dt.date, state: str) -> None:
        rng = self.rng
        seq = self.sequence
        if seq is None:
            p_start = {"cold": 0.04, "researching": 0.08, "evaluating": 0.1, "ready_to_buy": 0.1}[state]
            candidates = [c for c in self.a.buyers if c.email not in self.suppressed]
            if candidates and rng.random() < p_start:
                self.sequence = seq = {"contact": rng.choice(candidates), "touches": [], "next_due": None}
                self.touch(day, state)
            return
        if seq.get("done"):
            if seq["resume_on"] <= day:
                self.sequence = None
            return
        if seq["next_due"] is not None and seq["next_due"].date() <= day:
            self.touch(day, state)

    def touch(self, day: dt.date, state: str) -> None:
        rng = self.rng
        seq = self.sequence
        contact: SimContact = seq["contact"]
        at = self.work_time(day, 9, 17)
        number = len(seq["touches"]) + 1
        subject = rng.choice(texts.OUTREACH_SUBJECTS).format(company=self.a.name)
        body = rng.choice(texts.OUTREACH_BODIES).format(first=contact.first_name, company=self.a.name, rep=self.a.rep)
        if seq["touches"]:
            subject = "Re: " + seq["touches"][0].subject
        mid = f"<{self._id()}@mail.salesai.example>"
        sent = self.emit("email_sent", "signed", at, at + dt.timedelta(seconds=rng.randint(1, 60)), id=mid.strip("<>"),
                         contact=contact.email, subject=subject, body=body,
                         properties={"message_id": mid, "to": contact.email, "from": f"{self.a.rep}@salesai.example",
                                     "subject": subject, "sequence_step": number})  # fmt: skip
        seq["touches"].append(sent)
        seq["next_due"] = None
        if rng.random() < 0.10:  # an e-mail security scanner opens every link at once
            agent = rng.choice(BOT_USER_AGENTS)
            t = at + dt.timedelta(seconds=rng.randint(2, 20))
            for path in ["/", "/pricing", "/pricing#business", "/pricing/compare", "/customers"][: rng.randint(3, 5)]:
                self.emit("page_view", "segment", t, t + dt.timedelta(seconds=2), contact=contact.email, user_id=contact.user_id, is_bot=True,
                          properties={"path": path, "url": f"https://salesai.example{path}?utm_source=email", "title": path, "user_agent": agent})  # fmt: skip
                t += dt.timedelta(milliseconds=rng.randint(80, 600))
        p_reply = REPLY_PROBABILITY.get(state, CUSTOMER_REPLY_PROBABILITY)
        if rng.random() < 0.07:
            self.auto_reply(sent, contact)
        if rng.random() < p_reply:
            self.reply(sent, contact, state)
            return
        due = add_business_days(sent.deliver_at, FOLLOW_UP_AFTER_BUSINESS_DAYS)
        if number < SEQUENCE_TOUCHES:
            closes = due + dt.timedelta(days=5)
            if rng.random() < 0.7:  # the rep follows up on their own, a day or three late
                seq["next_due"] = add_business_days(due, rng.randint(1, 3))
                closes = min(closes, seq["next_due"].replace(hour=9))
            else:
                seq.update(done=True, resume_on=(due + dt.timedelta(days=20)).date())
            self.moment("follow_up_due", at=due, days=5, deciding=[sent.id], closes_at=closes)
        else:
            self.moment("sequence_exhausted", at=due, days=7, deciding=[sent.id])
            seq.update(done=True, resume_on=(due + dt.timedelta(days=30)).date())

    def auto_reply(self, sent: Event, contact: SimContact) -> None:
        rng = self.rng
        at = sent.occurred_at + dt.timedelta(seconds=rng.randint(5, 300))
        back = (at + dt.timedelta(days=rng.randint(2, 10))).strftime("%A %d %B")
        subject, body = texts.auto_reply(
            rng, subject=sent.subject, date=back, colleague_email=f"office@{self.a.domain}"
        )
        self.emit("email_reply", "email", at, at + dt.timedelta(seconds=rng.randint(1, 30)), contact=contact.email,
                  subject=subject, body=body, in_reply_to=sent.id, intent="auto_reply",
                  headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"})  # fmt: skip

    def reply(self, sent: Event, contact: SimContact, state: str) -> None:
        rng = self.rng
        intent, at, deliver, weeks, body = _compose_reply(rng, self.a, contact, state, sent_at=sent.occurred_at,
                                                          quoted=sent.body)  # fmt: skip
        reply = self.emit("email_reply", "email", at, deliver, contact=contact.email, subject="Re: " + sent.subject,
                          body=body, in_reply_to=sent.id, intent=intent,
                          id=f"{self._id()}@{self.a.domain}")  # fmt: skip
        if rng.random() < 0.02:
            self.duplicate(reply, dt.timedelta(minutes=rng.randint(1, 10)))
        self.sequence.update(done=True, resume_on=(at + dt.timedelta(days=45)).date())
        if intent in SUPPRESSING_INTENTS:
            self.suppressed.add(contact.email)
            return
        if intent == "not_now":
            due = at + dt.timedelta(weeks=weeks)
            if due < self.world.end:
                self.moment("check_in_due", at=due, opens_at=due - dt.timedelta(days=1), days=5, deciding=[reply.id])
            return
        kind = answer_kind(intent)
        closes = deliver + dt.timedelta(days=5)
        if rng.random() < 0.8:  # the rep answers on their own within hours to a day or two
            answer_at = add_business_days(deliver, 0) + dt.timedelta(hours=rng.randint(2, 40))
            mid = f"<{self._id()}@mail.salesai.example>"
            self.emit("email_sent", "signed", answer_at, answer_at + dt.timedelta(seconds=5), id=mid.strip("<>"),
                      contact=contact.email, subject="Re: " + sent.subject,
                      body=rng.choice(texts.REP_ANSWER_BODIES).format(first=contact.first_name), in_reply_to=reply.id,
                      properties={"message_id": mid, "to": contact.email, "from": f"{self.a.rep}@salesai.example",
                                  "in_reply_to": f"<{reply.id}>", "subject": "Re: " + sent.subject})  # fmt: skip
            closes = min(closes, answer_at)
        self.moment(kind, at=deliver, days=5, deciding=[reply.id], closes_at=closes)

    def customer_day(self, day: dt.date, state: str) -> None:
        rng = self.rng
        a = self.a
        seats = a.seats or 10
        if state == "at_risk_of_churn":
            self.usage_level = max(0.08, self.usage_level * 0.94)
        elif state == "expanding":
            self.usage_level = min(1.15, self.usage_level * 1.035 + 0.005)
        else:
            self.usage_level += (self.healthy_level - self.usage_level) * 0.15
            self.churn_reported = False
        active = max(1, round(self.usage_level * seats))
        users = a.contacts[: min(active, len(a.contacts))]
        today_users: set[str] = set()
        new_events: list[Event] = []
        sync = dt.datetime.combine(day, dt.time(18, 0), tzinfo=UTC) + dt.timedelta(seconds=rng.randint(0, 600))
        if is_business_day(day):
            for user in users:
                if rng.random() < 0.75:
                    at = self.work_time(day)
                    new_events.append(
                        self.emit(
                            "product_usage",
                            "segment",
                            at,
                            sync,
                            contact=user.email,
                            user_id=user.user_id,
                            name="Report Created",
                            properties={"feature": rng.choice(["reports", "dashboards", "exports"])},
                        )  # fmt: skip
                    )
                    today_users.add(user.user_id)
        self.usage_users.append((day, today_users))
        window = [u for d, u in self.usage_users if (day - d).days < 7]
        distinct = set().union(*window) if window else set()
        utilisation = len(distinct) / seats
        if not self.goal_met and utilisation >= SEAT_GOAL and new_events:
            before = set().union(*window[:-1]) if len(window) > 1 else set()
            crossing = [e.id for e in new_events if e.user_id not in before] or [new_events[-1].id]
            self.moment("expansion", at=sync, days=14, deciding=crossing)
        self.goal_met = utilisation >= SEAT_GOAL
        start_of_day = dt.datetime.combine(day, dt.time(0), tzinfo=UTC)
        if a.renewal_date is not None:
            days_left = (a.renewal_date - day).days
            renewal_at = dt.datetime.combine(a.renewal_date, dt.time(0), tzinfo=UTC)
            # Entering a renewal window — or starting the world inside one — needs the rep; nobody in this
            # world starts renewals on their own, so the need lasts until the next window or the renewal.
            entering = days_left in RENEWAL_WINDOWS_DAYS
            inside_at_start = day == self.world.start.date() and 0 < days_left <= max(RENEWAL_WINDOWS_DAYS)
            if entering or inside_at_start:
                kind = "churn_risk" if state == "at_risk_of_churn" else "renewal_window"
                later = [w for w in RENEWAL_WINDOWS_DAYS if w < days_left]
                closes = renewal_at - dt.timedelta(days=max(later)) if later else renewal_at
                self.moment(kind, at=start_of_day, days=0, facts=["contract"], closes_at=closes)
                self.churn_reported = self.churn_reported or kind == "churn_risk"
            low = len(distinct) < CHURN_USAGE_DROP * self.healthy_level * seats
            if state == "at_risk_of_churn" and low and 0 < days_left <= 90 and not self.churn_reported:
                at = sync if new_events else start_of_day + dt.timedelta(hours=9)
                self.moment("churn_risk", at=at, days=30, facts=["contract"],
                            deciding=[e.id for e in new_events][-3:], closes_at=min(at + dt.timedelta(days=30), renewal_at))  # fmt: skip
                self.churn_reported = True

    def check_going_dark(self, day: dt.date) -> None:
        recent = [d for d in self.activity_days if d <= day]
        if not recent:
            return
        last = max(recent)
        silent = (day - last).days
        if silent == 0:
            self.dark_reported = False
            return
        if silent == DARK_AFTER_DAYS and not self.dark_reported:
            engaged = {d for d in recent if 0 < (last - d).days + 1 <= 28}
            if len(engaged) >= ENGAGED_DAYS_IN_28:
                at = dt.datetime.combine(day, dt.time(0), tzinfo=UTC)
                self.moment("going_dark", at=at, days=14)
                self.dark_reported = True


def answer_kind(intent: str) -> str:
    """The moment a reply that wants an answer makes (not a "not now", not a suppressing one)."""
    return "referral" if intent == "referral" else "reply_needs_answer"


def _compose_reply(rng: random.Random, account: SimAccount, contact: SimContact, state: str, *, sent_at: dt.datetime,
                   quoted: str) -> tuple[str, dt.datetime, dt.datetime, int, str]:  # fmt: skip
    """A person's answer to an e-mail: (intent, written at, delivered at, weeks for a "not now", text)."""
    intent = _pick(rng, REPLY_MIX.get(state, DEFAULT_REPLY_MIX))
    at = sent_at + dt.timedelta(minutes=rng.randint(20, 60 * 40))
    if not is_business_day(at.date()):
        at = add_business_days(at, 1)
    deliver = at + dt.timedelta(seconds=rng.randint(1, 45))
    colleague = rng.choice([c for c in account.contacts if c != contact] or [contact])
    weeks = rng.choice([2, 3, 4, 6])
    body = texts.reply_text(rng, intent=intent, rep=account.rep.replace("sim-", "").title(), first=contact.first_name,
                            company=account.name, seats=account.seats or 20, colleague=colleague.name,
                            colleague_email=colleague.email, weeks=weeks, quoted=quoted)  # fmt: skip
    return intent, at, deliver, weeks, body


def state_on(world: World, account: SimAccount, instant: dt.datetime) -> str:
    """The account's hidden state on the day of ``instant``."""
    day = min(max((instant.date() - world.start.date()).days, 0), len(account.states) - 1)
    return account.states[day] if account.states else "cold"


def react_to_email(world: World, account: SimAccount, *, contact_email: str, message_id: str, subject: str,
                   body: str, sent_at: dt.datetime, touch: int, action: str = "") -> tuple[list[Event], list[Moment]]:  # fmt: skip
    """How the market answers an e-mail salesai sent (a rep approved it, or the trust model sent it):
    by the same rules as the rep's own outreach, from the account's hidden state that day. A reply
    (threaded to ``message_id``) makes the moments a reply makes; silence makes a follow-up due after
    three business days, or, after the ``touch``-th unanswered e-mail, another contact. Deterministic:
    the randomness is seeded by the world, the account, the person, the instant and the ``action``."""
    contact = next((c for c in account.contacts if c.email == contact_email), None)
    if contact is None:
        return [], []
    rng = random.Random(f"{world.seed}:react:{account.index}:{contact_email}:{sent_at.isoformat()}:{action}")
    state = state_on(world, account, sent_at)
    key = f"{account.index}-{contact.user_id}-{sent_at:%Y%m%d%H%M%S}-{action}-{touch}"
    sent_id = message_id.strip("<>")

    def moment(kind: str, at: dt.datetime, days: float, deciding: list[str], opens_at: dt.datetime | None = None):
        return Moment(id=f"m{world.seed}-react-{key}", account=account.domain, rep=account.rep, kind=kind,
                      opens_at=opens_at or at, at=at, closes_at=at + dt.timedelta(days=days), deciding=tuple(deciding))  # fmt: skip

    if rng.random() < REPLY_PROBABILITY.get(state, CUSTOMER_REPLY_PROBABILITY):
        intent, at, deliver, weeks, text = _compose_reply(rng, account, contact, state, sent_at=sent_at, quoted=body)
        reply = Event(id=f"sim{world.seed}-react-{key}@{account.domain}", account=account.domain, kind="email_reply",
                      channel="email", occurred_at=at, deliver_at=deliver, contact=contact.email,
                      subject="Re: " + subject, body=text, in_reply_to=sent_id, intent=intent)  # fmt: skip
        if intent in SUPPRESSING_INTENTS:
            return [reply], []
        if intent == "not_now":
            due = at + dt.timedelta(weeks=weeks)
            return [reply], [moment("check_in_due", due, 5, [reply.id], opens_at=due - dt.timedelta(days=1))]
        return [reply], [moment(answer_kind(intent), deliver, 5, [reply.id])]
    due = add_business_days(sent_at, FOLLOW_UP_AFTER_BUSINESS_DAYS)
    if touch < SEQUENCE_TOUCHES:
        return [], [moment("follow_up_due", due, 5, [sent_id])]
    return [], [moment("sequence_exhausted", due, 7, [sent_id])]


def identify_events(world: World, account: SimAccount, rng: random.Random) -> list[Event]:
    """Who is who, sent once at the start of the world (Segment identify of every person)."""
    at = world.start - dt.timedelta(hours=1)
    return [
        Event(
            id=f"sim{world.seed}-{account.index}-id{n}",
            account=account.domain,
            kind="identify",
            channel="segment",
            occurred_at=at,
            deliver_at=at,
            contact=c.email,
            user_id=c.user_id,
            properties={"email": c.email, "name": c.name, "title": c.title},
        )  # fmt: skip
        for n, c in enumerate(account.contacts)
    ]


def generate(
    *,
    seed: int,
    accounts: int | list[SimAccount],
    days: int,
    start: dt.datetime | None = None,
    accounts_per_rep: int = 50,
) -> World:
    """Build a world of ``accounts`` (a count, or accounts given, e.g. the demo's) over ``days``."""
    rng = random.Random(seed)
    start = start or dt.datetime(2026, 3, 2, tzinfo=UTC)
    if isinstance(accounts, int):
        n_reps = max(1, -(-accounts // accounts_per_rep))
        reps = [f"sim-rep-{i + 1}" for i in range(n_reps)]
        sim_accounts = make_accounts(rng, count=accounts, reps=reps)
    else:
        sim_accounts = accounts
        reps = sorted({a.rep for a in sim_accounts})
    world = World(seed=seed, start=start, days=days, reps=reps, accounts=sim_accounts, events=[], moments=[])
    for account in sim_accounts:
        story = _AccountStory(world, account, seed)
        story.play()
        world.events.extend(identify_events(world, account, rng))
        world.events.extend(story.events)
        world.moments.extend(story.moments)
    world.events = [e for e in world.events if e.deliver_at < world.end]
    world.events.sort(key=lambda e: (e.deliver_at, e.account, e.occurred_at, e.id))
    world.moments = [m for m in world.moments if m.at < world.end]
    world.moments.sort(key=lambda m: (m.at, m.id))
    return world
