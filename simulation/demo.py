"""A believable demo world of accounts, people, deals and contracts (used by ``seed_demo``)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.models import Account, AccountPicture, Contact, Contract, Goal, Opportunity, RepProfile
from salesai import clock
from salesai.roles import MANAGER_GROUP, REP_GROUP
from simulation.texts import FIRST_NAMES

DEMO_PASSWORD = "salesai-demo"  # noqa: S105 - printed to the person who runs the demo, never used elsewhere


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    password: str = DEMO_PASSWORD

    @property
    def signature(self) -> str:
        return f"{self.first_name} {self.last_name}\n{self.title}, salesai demo"


#: Real names, so drafts are signed by a person (issue 14, finding 6), each with a signature.
DEMO_LOGINS = (
    DemoLogin("demo-rep", REP_GROUP, "Maya", "Chen", "Account Executive"),
    DemoLogin("demo-rep-2", REP_GROUP, "Tom", "Becker", "Account Executive"),
    DemoLogin("demo-manager", MANAGER_GROUP, "Sara", "Lindqvist", "Head of Sales"),
)
#: The person the README's curl example visits as (a contact of the demo's Acme, not a new company).
README_CONTACT = ("Ines", "Moreau", "VP Operations", Contact.Seniority.VP)

_COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foods",
    "Hooli",
    "Vandelay Imports",
    "Soylent Labs",
    "Tyrell Systems",
    "Cyberdyne Robotics",
    "Wonka Confections",
    "Gringotts Finance",
    "Oscorp Bio",
    "Pied Piper",
    "Massive Dynamic",
    "Aperture Science",
    "Black Mesa",
    "Monarch Solutions",
    "Nakatomi Trading",
    "Prestige Worldwide",
    "Dunder Paper",
    "Sterling Cooper",
    "Bluth Homes",
    "Los Pollos",
    "Krusty Foods",
    "Virtucon",
    "Ollivander Crafts",
    "Duff Brewing",
    "Blue Sun",
    "Rekall Travel",
    "Weyland Mining",
    "Zorg Industries",
    "Ecorp Analytics",
    "Octan Energy",
    "Vehement Capital",
]
_LAST = [
    "Lee",
    "Patel",
    "Garcia",
    "Nguyen",
    "Schmidt",
    "Okafor",
    "Rossi",
    "Kim",
    "Haddad",
    "Novak",
    "Silva",
    "Berg",
    "Tanaka",
    "Dubois",
    "Murphy",
    "Costa",
    "Ali",
    "Fischer",
    "Moreau",
    "Larsen",
]
_TITLES = [
    ("Chief Executive Officer", Contact.Seniority.C_LEVEL),
    ("Chief Financial Officer", Contact.Seniority.C_LEVEL),
    ("VP Operations", Contact.Seniority.VP),
    ("VP Sales", Contact.Seniority.VP),
    ("Director of IT", Contact.Seniority.DIRECTOR),
    ("Head of Procurement", Contact.Seniority.DIRECTOR),
    ("Operations Manager", Contact.Seniority.MANAGER),
    ("Team Lead", Contact.Seniority.MANAGER),
    ("Analyst", Contact.Seniority.INDIVIDUAL),
    ("Engineer", Contact.Seniority.INDIVIDUAL),
]


def ensure_demo_users() -> dict[str, object]:
    """Create (or reset the passwords of) the demo rep and manager logins."""
    users = {}
    User = get_user_model()
    for login in DEMO_LOGINS:
        user, _ = User.objects.get_or_create(
            username=login.username, defaults={"email": f"{login.username}@salesai.example"}
        )
        user.first_name, user.last_name = login.first_name, login.last_name
        user.set_password(login.password)
        user.is_staff = login.role == MANAGER_GROUP
        user.save()
        user.groups.add(Group.objects.get_or_create(name=login.role)[0])
        profile, _ = RepProfile.objects.get_or_create(user=user)
        if not profile.signature:
            profile.signature = login.signature
            profile.save(update_fields=["signature"])
        if login.role == MANAGER_GROUP:
            user.user_permissions.add(
                *Permission.objects.filter(
                    content_type__app_label__in=[
                        "accounts",
                        "signals",
                        "trust",
                        "recommendations",
                        "django_celery_beat",
                    ]
                )
            )
        users[login.username] = user
    return users


@transaction.atomic
def build_demo_accounts(*, seed: int = 7, count: int = 36) -> list[Account]:
    """Dozens of accounts with contacts, opportunities, contracts renewing over the coming months, goals."""
    rng = random.Random(seed)
    users = ensure_demo_users()
    reps = [users["demo-rep"], users["demo-rep-2"]]
    today = clock.now().date()
    accounts = []
    for index, company in enumerate(_COMPANIES[:count]):
        segment = rng.choices(list(Account.Segment), weights=[5, 4, 2])[0]
        base = {"smb": 12_000, "mid_market": 48_000, "enterprise": 180_000}[segment]
        arr = Decimal(round(base * rng.uniform(0.6, 1.8), -3))
        domain = company.lower().replace(" ", "") + ".example"
        account, _ = Account.objects.update_or_create(
            domain=domain,
            defaults={
                "name": company,
                "owner": reps[index % 2],
                "segment": segment,
                "arr": arr,
                "seats": int(arr // 600) or 10,
                "plan": {"smb": "Team", "mid_market": "Business", "enterprise": "Enterprise"}[segment],
                "strategic": segment == Account.Segment.ENTERPRISE and rng.random() < 0.5,
            },
        )
        AccountPicture.objects.get_or_create(account=account)
        people = rng.sample(range(len(FIRST_NAMES)), k=rng.randint(2, 4))
        for position, person in enumerate(people):
            first, last = FIRST_NAMES[person], _LAST[(person + index) % len(_LAST)]
            title, seniority = _TITLES[rng.randrange(len(_TITLES))] if position else _TITLES[rng.randrange(2, 6)]
            Contact.objects.update_or_create(
                email=f"{first}.{last}@{domain}".lower(),
                # the demo stands in for a CRM import: these people are vouched for
                defaults={
                    "account": account,
                    "name": f"{first} {last}",
                    "title": title,
                    "seniority": seniority,
                    "origin": Contact.Origin.CRM,
                },
            )
        if index == 0:
            first, last, title, seniority = README_CONTACT
            Contact.objects.update_or_create(
                email=f"{first}.{last}@{domain}".lower(),
                defaults={"account": account, "name": f"{first} {last}", "title": title, "seniority": seniority,
                          "origin": Contact.Origin.CRM},
            )  # fmt: skip
        Contract.objects.update_or_create(
            external_id=f"demo-contract-{domain}",
            defaults={
                "account": account,
                "value": arr,
                "start_date": today - dt.timedelta(days=365 - (index * 9) % 300),
                "renewal_date": today + dt.timedelta(days=10 + (index * 11) % 200),
            },
        )
        if rng.random() < 0.6:
            stage = rng.choice([Opportunity.Stage.DISCOVERY, Opportunity.Stage.EVALUATION, Opportunity.Stage.PROPOSAL])
            Opportunity.objects.update_or_create(
                external_id=f"demo-opp-{domain}",
                defaults={
                    "account": account,
                    "name": f"{company} expansion",
                    "amount": Decimal(round(float(arr) * rng.uniform(0.2, 0.6), -3)),
                    "stage": stage,
                    "close_date": today + dt.timedelta(days=rng.randint(20, 120)),
                },
            )
        if rng.random() < 0.3:
            Goal.objects.get_or_create(
                account=account,
                metric=Goal.Metric.SEAT_UTILIZATION,
                defaults={"name": "Seat usage reaches 80%", "threshold": 0.8},
            )
        accounts.append(account)
    return accounts


#: Three weeks of reviews in the demo, so a new user sees autonomy earned, being learned and lost
#: (issue 14): (domain, approvals, minor edits, rejections, failures at the end).
DEMO_REVIEWS = (
    ("renewal_outreach", 56, 8, 0, 0),  # earned: new renewal e-mails go to Autopilot with an undo window
    ("pricing_outreach", 12, 2, 2, 0),  # still learning: a person reviews each one
    ("follow_up", 26, 2, 1, 2),  # demoted: two undone in a row took its autonomy away
)


def seed_review_history(*, days: int = 21, now: dt.datetime | None = None) -> dict[str, str]:
    """Record ``days`` of reviews in the trust record through ``trust.record_outcome`` (as reviews do),
    spread evenly and ending an hour ago; returns each domain's state in words. Idempotent (one
    reference per review)."""
    from trust import services as trust
    from trust.models import Outcome

    now = now or clock.now()
    start = now - dt.timedelta(days=days)
    states = {}
    for domain, approved, edited, rejected, failures in DEMO_REVIEWS:
        kinds = [Outcome.Kind.APPROVED] * approved + [Outcome.Kind.EDITED_MINOR] * edited
        kinds += [Outcome.Kind.REJECTED] * rejected
        random.Random(domain).shuffle(kinds)
        kinds += [Outcome.Kind.UNDONE] * failures  # the last ones: what demoted it
        step = (now - dt.timedelta(hours=1) - start) / max(1, len(kinds))
        for index, kind in enumerate(kinds):
            trust.record_outcome(
                domain=domain,
                kind=kind,
                reference=f"demo-review:{domain}:{index}",
                autonomous=kind == Outcome.Kind.UNDONE,
                occurred_at=start + step * (index + 1),
            )
        policy = trust.policy_for(domain)
        states[domain] = f"demoted: {policy.demoted_reason}" if policy.demoted_at else "reviewed"
    return states
