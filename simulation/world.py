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
engaged month) are stated once, as constants, in :mod:`simulation.market`; each account's story is
played by :mod:`simulation.story`; this module builds the accounts and the world.
"""

from __future__ import annotations

import datetime as dt
import random

from simulation.market import UTC, Event, SimAccount, SimContact, World
from simulation.story import AccountStory
from simulation.texts import FIRST_NAMES

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
        story = AccountStory(world, account, seed)
        story.play()
        world.events.extend(identify_events(world, account, rng))
        world.events.extend(story.events)
        world.moments.extend(story.moments)
    world.events = [e for e in world.events if e.deliver_at < world.end]
    world.events.sort(key=lambda e: (e.deliver_at, e.account, e.occurred_at, e.id))
    world.moments = [m for m in world.moments if m.at < world.end]
    world.moments.sort(key=lambda m: (m.at, m.id))
    return world
