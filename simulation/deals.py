"""Deals in the simulated market: a hidden state per open deal, the CRM updates and meetings it causes,
and the moments a good rep would act on.

About a third of the prospects have an open deal when the world starts (set up as a CRM import would,
with when it entered its stage). Its hidden state:

- ``healthy``: two people, one of them senior, meet every 5–10 days; the stage moves on every 10–16
  days; the close date lies beyond the world. No deal play should fire.
- ``stalling``: after the kickoff meeting nobody meets or writes, and the stage never moves: it is
  ghosted 14 days after the last engagement, or stalled 31 days into its stage, whichever comes first.
- ``slipping``: healthy, but the close date moves out twice (two CRM updates): at risk from the second.
- ``single_threaded``: a deal of $30,000 or more where only one person ever engages.
- ``champion_leaving``: healthy until its main contact leaves (the CRM marks them "left the company").

Meetings of several people are delivered as one signed webhook call (one calendar sync), so analysis
sees the whole meeting at once. The rep works a deal directly: no outreach sequence runs at a deal's
account (:mod:`simulation.story` asks :func:`has_deal`). Pure Python, seeded like the rest of the world.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from simulation.market import SUPPRESSING_INTENTS, UTC, Event, Moment, SimAccount, is_business_day

DEAL_SHARE = 0.35
STATES = {"healthy": 0.4, "stalling": 0.15, "slipping": 0.15, "single_threaded": 0.15, "champion_leaving": 0.15}
STAGES = ("discovery", "evaluation", "proposal", "negotiation")
GHOST_DAYS = 14
STALL_DAYS = 31  # "more than 30 days in the stage" (the manager's default norm) from the 31st day
MOMENT_KIND = {
    "stalling": "deal_stalling",
    "slipping": "deal_slipping",
    "single_threaded": "single_threaded",
    "champion_leaving": "champion_leaving",
}
ENGAGING = ("meeting_booked", "email_reply")


@dataclass
class SimDeal:
    state: str
    external_id: str
    name: str
    amount: int
    stage: str
    stage_entered: dt.datetime
    close_date: dt.date
    people: list[str]  # e-mails, the main contact first
    events: list[Event] = field(default_factory=list)

    @property
    def champion(self) -> str:
        return self.people[0]


def has_deal(account: SimAccount) -> bool:
    return getattr(account, "deal", None) is not None


def assign(account: SimAccount, *, seed: int, start: dt.datetime, days: int) -> SimDeal | None:
    """Decide (from its own seeded draw, leaving the account's story untouched) whether the prospect
    has an open deal, and its hidden state."""
    rng = random.Random(f"{seed}:deal:{account.index}")
    if account.customer or len(account.contacts) < 2 or rng.random() >= DEAL_SHARE:
        return None
    state = rng.choices(list(STATES), weights=list(STATES.values()))[0]
    people = [c.email for c in account.contacts[:2]]  # a VP and a director (simulation.world's titles)
    if state == "single_threaded":
        people = [account.contacts[min(2, len(account.contacts) - 1)].email]
    stage_entered = start - dt.timedelta(days=rng.uniform(10, 20) if state == "stalling" else rng.uniform(0, 6))
    close = (start + dt.timedelta(days=days + rng.randint(5, 30))).date()
    if state == "slipping":
        close = (start + dt.timedelta(days=rng.randint(20, 26))).date()
    amount = rng.randint(30, 90) * 1000 if state == "single_threaded" else rng.randint(10, 80) * 1000
    deal = SimDeal(state=state, external_id=f"sim-deal-{seed}-{account.index}", name=f"{account.name} platform",
                   amount=amount, stage=rng.choice(STAGES[:2]), stage_entered=stage_entered, close_date=close,
                   people=people)  # fmt: skip
    account.deal = deal
    return deal


def crm_payload(account: SimAccount, deal: SimDeal, **changes) -> dict:
    return {"domain": account.domain, "opportunities": [{"external_id": deal.external_id, **changes}]}


class DealStory:
    """Writes one deal's meetings and CRM updates into the account's story, and its moment."""

    def __init__(self, story, deal: SimDeal) -> None:
        self.story, self.deal = story, deal
        self.rng = random.Random(f"{story.world.seed}:deal-story:{story.a.index}")
        world = story.world
        self.next_meeting = world.start + dt.timedelta(days=self.rng.randint(5, 10))
        self.next_stage = world.start + dt.timedelta(days=self.rng.randint(10, 16))
        self.stage = deal.stage
        self.slips = sorted(self.rng.sample(range(5, 30), 2)) if deal.state == "slipping" else []
        self.close_date = deal.close_date
        self.leaves_on = self.rng.randint(8, 30) if deal.state == "champion_leaving" else None
        self.left = False
        self.meeting(world.start - dt.timedelta(hours=2), kickoff=True)

    def meeting(self, at: dt.datetime, *, kickoff: bool = False) -> None:
        people = [p for p in self.deal.people if not (self.left and p == self.deal.champion)]
        deliver = at + dt.timedelta(seconds=30)
        title = "Kickoff" if kickoff else "Deal review"
        for n, email in enumerate(people):
            self.deal.events.append(
                self.story.emit(
                    "meeting_booked",
                    "signed",
                    at,
                    deliver,
                    contact=email,
                    id=f"{self.story._id()}-m{n}",
                    properties={"title": title, "starts_at": (at + dt.timedelta(days=1)).isoformat()},
                )  # fmt: skip
            )

    def crm(self, at: dt.datetime, **changes) -> Event:
        event = self.story.emit("crm_sync", "crm", at, at, properties=crm_payload(self.story.a, self.deal, **changes))
        self.story.activity_days.pop()  # a CRM update is the rep's doing, not the account's activity
        return event

    def day(self, day: dt.date) -> None:
        deal, start = self.deal, self.story.world.start
        if deal.state == "stalling":
            return
        noon = dt.datetime.combine(day, dt.time(11), tzinfo=UTC)
        if noon >= self.next_meeting and is_business_day(day):
            self.meeting(self.story.work_time(day, 9, 17))
            self.next_meeting = noon + dt.timedelta(days=self.rng.randint(5, 10))
        if noon >= self.next_stage and self.stage != STAGES[-1]:
            self.stage = STAGES[STAGES.index(self.stage) + 1]
            self.crm(self.story.work_time(day, 9, 17), stage=self.stage)
            self.next_stage = noon + dt.timedelta(days=self.rng.randint(10, 16))
        offset = (day - start.date()).days
        if offset in self.slips:
            self.close_date += dt.timedelta(days=14)
            event = self.crm(self.story.work_time(day, 9, 17), close_date=self.close_date.isoformat())
            if offset == self.slips[-1]:
                self.story.moment(MOMENT_KIND["slipping"], at=event.deliver_at, days=0,
                                  closes_at=self.story.world.end, facts=["deal_close_date_moves"])  # fmt: skip
        if offset == self.leaves_on and not self.left:
            at = self.story.work_time(day, 9, 17)
            event = self.story.emit("crm_sync", "crm", at, at, properties={
                "domain": self.story.a.domain,
                "contacts": [{"email": deal.champion, "do_not_contact": True,
                              "do_not_contact_reason": "Left the company"}]})  # fmt: skip
            self.story.activity_days.pop()
            self.left = True
            self.story.moment(MOMENT_KIND["champion_leaving"], at=event.deliver_at, days=0,
                              closes_at=self.story.world.end)  # fmt: skip

    def finish(self) -> None:
        """The moments time decides, once the whole story is known: a stalling deal is at risk from
        the first of 14 days without anyone engaging or its 31st day in the stage; a single-threaded one
        from its kickoff."""
        deal, story = self.deal, self.story
        if deal.state == "single_threaded":
            kickoff = deal.events[0]
            story.moment(MOMENT_KIND["single_threaded"], at=kickoff.deliver_at, days=0, closes_at=story.world.end,
                         deciding=[kickoff.id])  # fmt: skip
        if deal.state != "stalling":
            return
        engaged = sorted(
            e.deliver_at
            for e in story.events
            if e.kind in ENGAGING and not e.is_bot and e.intent not in (*SUPPRESSING_INTENTS, "auto_reply")
        )
        ghost = None
        for index, when in enumerate(engaged):
            quiet_until = when + dt.timedelta(days=GHOST_DAYS)
            if index + 1 == len(engaged) or engaged[index + 1] >= quiet_until:
                ghost = quiet_until
                break
        at = min(filter(None, (ghost, deal.stage_entered + dt.timedelta(days=STALL_DAYS))))
        if at < story.world.end:
            story.moment(
                MOMENT_KIND["stalling"], at=at, days=0, closes_at=story.world.end, facts=["deal_stage", "deal"]
            )


def answer_moment(account: SimAccount, *, contact_email: str, intent: str, reply: Event) -> Moment | None:
    """The market's "wrong person" from a deal's main contact (to an e-mail salesai sent) loses the deal
    its champion: a moment of its own."""
    deal = getattr(account, "deal", None)
    if deal is None or intent != "wrong_person" or contact_email != deal.champion:
        return None
    at = reply.deliver_at
    return Moment(id=f"m-deal-{reply.id}", account=account.domain, rep=account.rep, kind=MOMENT_KIND["champion_leaving"],
                  opens_at=at, at=at, closes_at=at + dt.timedelta(days=14), deciding=(reply.id,))  # fmt: skip
