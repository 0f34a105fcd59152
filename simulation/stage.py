"""The rows a simulated world needs, and their removal.

Set-up data (reps, accounts, contacts, contracts, seat goals) is written through the ORM, as a CRM
import would; every *event* goes through a webhook. Simulation rows are marked (accounts'
``external_id`` starts with ``sim:``, sources' and reps' names with ``sim-``) and are removed before
the next run; :func:`clean` refuses a database holding other accounts unless ``force=True``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.models import Account, AccountPicture, Contact, Contract, Goal
from recommendations.models import Recommendation
from signals.models import Signal, Source
from signals.sources import create_source
from simulation import deals_rows
from simulation.market import World
from trust.models import Outcome, TrustDecision

SIM_PREFIX = "sim-"
SIM_EXTERNAL_PREFIX = "sim:"


class RefusedDatabase(Exception):
    """The database holds accounts that are not the simulation's."""


def clean(*, force: bool = False) -> None:
    """Remove a previous simulation's rows; refuse a database with other accounts unless forced."""
    others = Account.objects.exclude(external_id__startswith=SIM_EXTERNAL_PREFIX)
    if others.exists() and not force:
        raise RefusedDatabase(
            f"The database holds {others.count()} accounts that are not the simulation's. Point DATABASE_URL "
            "at a fresh database, or pass --force to run beside them (their recommendations will be analysed "
            "at simulated times too)."
        )
    sim_sources = Source.objects.filter(name__startswith=SIM_PREFIX)
    with transaction.atomic():
        # the trust model's record of them too: a next run on this database must start without it
        # (the same simulated days would otherwise count the last run's autonomous actions in the cap)
        recs = Recommendation.objects.filter(account__external_id__startswith=SIM_EXTERNAL_PREFIX)
        ids = list(recs.values_list("pk", flat=True))
        for start in range(0, len(ids), 500):
            references = [f"recommendation:{pk}" for pk in ids[start : start + 500]]
            Outcome.objects.filter(reference__in=references).delete()
            TrustDecision.objects.filter(reference__in=references).delete()
        recs.delete()
        Signal.objects.filter(source__in=sim_sources).delete()
        Signal.objects.filter(account__external_id__startswith=SIM_EXTERNAL_PREFIX).delete()
        Account.objects.filter(external_id__startswith=SIM_EXTERNAL_PREFIX).delete()
        sim_sources.delete()
        get_user_model().objects.filter(username__startswith=SIM_PREFIX).delete()


@dataclass
class Credentials:
    segment_key: str
    generic_key: str
    generic_secret: str
    email_key: str
    crm_token: str = ""  # a simulated manager's API token: the CRM sync of the deals' changes


def set_up(world: World, *, create_rows: bool = True) -> Credentials:
    """Reps, accounts, people, contracts and seat goals (as a CRM import would), and three sources.
    With ``create_rows=False`` (existing accounts, e.g. the demo's) only the sources are created."""
    if create_rows:
        _create_rows(world)
    tag = f"{SIM_PREFIX}{world.seed}-{time.time_ns()}"
    _segment, segment_key = create_source(name=f"{tag}-segment", kind=Source.Kind.SEGMENT)
    generic, generic_key = create_source(name=f"{tag}-outreach", kind=Source.Kind.GENERIC)
    _email, email_key = create_source(name=f"{tag}-email", kind=Source.Kind.EMAIL)
    for user in get_user_model().objects.filter(username__in=world.reps):
        Token.objects.get_or_create(user=user)  # the reps review through the API
    Source.objects.filter(name__startswith=tag).update(rate_limit_per_minute=1_000_000)  # outpace no limit
    # The simulated product identifies its users from its servers, so its source may tie their user ids
    # to the people the CRM import created (an untrusted, browser key may not: issue 13).
    Source.objects.filter(pk=_segment.pk).update(trusted_traits=True)
    return Credentials(segment_key, generic_key, generic.signing_secret, email_key, deals_rows.crm_token(world))


def _create_rows(world: World) -> None:
    User = get_user_model()
    rep_group, _ = Group.objects.get_or_create(name="rep")
    users = {}
    for name in world.reps:
        user, created = User.objects.get_or_create(username=name, defaults={"email": f"{name}@salesai.example"})
        if created:
            user.groups.add(rep_group)
        users[name] = user
    with transaction.atomic():
        for a in world.accounts:
            account, _ = Account.objects.update_or_create(
                domain=a.domain,
                defaults={
                    "name": a.name,
                    "owner": users[a.rep],
                    "segment": a.segment,
                    "arr": Decimal(a.arr),
                    "seats": a.seats,
                    "external_id": f"{SIM_EXTERNAL_PREFIX}{world.seed}:{a.index}",
                },
            )
            AccountPicture.objects.get_or_create(account=account)
            Contact.objects.bulk_create(
                [Contact(account=account, email=c.email, name=c.name, title=c.title, seniority=c.seniority) for c in a.contacts],
                ignore_conflicts=True,
            )  # fmt: skip
            if a.renewal_date is not None:
                Contract.objects.update_or_create(
                    external_id=f"{SIM_EXTERNAL_PREFIX}{world.seed}:{a.index}",
                    defaults={"account": account, "value": Decimal(a.contract_value), "renewal_date": a.renewal_date,
                              "start_date": a.renewal_date - dt.timedelta(days=365)},
                )  # fmt: skip
            if a.deal is not None:
                deals_rows.create_deal(account=account, deal=a.deal)
            if a.customer:
                Goal.objects.get_or_create(
                    account=account, metric=Goal.Metric.SEAT_UTILIZATION,
                    defaults={"name": "Seat usage reaches 80%", "threshold": 0.8, "comparator": Goal.Comparator.GTE},
                )  # fmt: skip
