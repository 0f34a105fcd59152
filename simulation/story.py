"""One account's story: its hidden state played forward day by day, the signals that state causes
and the moments a good rep would act on; and how the market answers the e-mails salesai sends.

Every draw comes from a ``random.Random`` seeded by the world, the account (and, for answers, the
person, the instant and the action), so a seed always tells the same stories.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import replace

from simulation import deals, texts
from simulation.market import (
    BOT_USER_AGENTS,
    CHURN_USAGE_DROP,
    CUSTOMER_CHAIN,
    CUSTOMER_REPLY_PROBABILITY,
    CUSTOMER_START,
    DARK_AFTER_DAYS,
    DEFAULT_REPLY_MIX,
    ENGAGED_DAYS_IN_28,
    FOLLOW_UP_AFTER_BUSINESS_DAYS,
    HUMAN_USER_AGENTS,
    PRICING_BURST_VIEWS,
    PROSPECT_CHAIN,
    PROSPECT_START,
    RENEWAL_WINDOWS_DAYS,
    REPLY_MIX,
    REPLY_PROBABILITY,
    SEAT_GOAL,
    SEQUENCE_TOUCHES,
    SUPPRESSING_INTENTS,
    UTC,
    Event,
    Moment,
    SimAccount,
    SimContact,
    World,
    add_business_days,
    is_business_day,
    pick,
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


class AccountStory:
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
        # what the account's people did: not the rep's e-mails, not bots, not an out-of-office (the market
        # does not count one as an answer either, and neither does salesai)
        if not event.is_bot and kind != "email_sent" and event.intent != "auto_reply":
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
        state = pick(self.rng, start)
        if a.customer and a.renewal_date is None:
            a.renewal_date = (self.world.start + dt.timedelta(days=self.rng.randint(10, 200))).date()
            a.contract_value = a.arr
        deal = deals.assign(a, seed=self.world.seed, start=self.world.start, days=self.world.days)
        deal_story = deals.DealStory(self, deal) if deal else None
        for offset in range(self.world.days):
            day = (self.world.start + dt.timedelta(days=offset)).date()
            if offset:
                state = pick(self.rng, chain[state])
            a.states.append(state)
            if a.customer:
                self.customer_day(day, state)
            else:
                self.prospect_day(day, state)
            if deal_story:
                deal_story.day(day)
            self.check_going_dark(day)
        if deal_story:
            deal_story.finish()

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
        if deals.has_deal(self.a):
            return  # the rep works an open deal directly, not with a sequence
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
            # one market, one rule: the answer is an e-mail to the person like any other, and as with
            # salesai's answers (react_to_email) silence makes a follow-up due; here the person does not
            # write back (an answer of theirs from salesai's e-mails ends it, as the driver does)
            self.moment("follow_up_due", at=add_business_days(answer_at, FOLLOW_UP_AFTER_BUSINESS_DAYS), days=5,
                        deciding=[mid.strip("<>")])  # fmt: skip
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
    intent = pick(rng, REPLY_MIX.get(state, DEFAULT_REPLY_MIX))
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
            lost = deals.answer_moment(account, contact_email=contact.email, intent=intent, reply=reply)
            return [reply], [lost] if lost else []
        if intent == "not_now":
            due = at + dt.timedelta(weeks=weeks)
            return [reply], [moment("check_in_due", due, 5, [reply.id], opens_at=due - dt.timedelta(days=1))]
        return [reply], [moment(answer_kind(intent), deliver, 5, [reply.id])]
    due = add_business_days(sent_at, FOLLOW_UP_AFTER_BUSINESS_DAYS)
    if touch < SEQUENCE_TOUCHES:
        return [], [moment("follow_up_due", due, 5, [sent_id])]
    return [], [moment("sequence_exhausted", due, 7, [sent_id])]
