"""Property: over random histories — playbooks firing for any contact, the rep writing by hand, people
approving, time passing with the beat sweep and the executor — no contact or account is ever offered a
send beyond its cap, and no e-mail salesai sends breaks one."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from audit.models import AuditEvent
from recommendations.models import OutreachPolicy, Recommendation
from recommendations.playbooks import Action, Playbook, register, unregister
from recommendations.playbooks.base import MET, Criterion, Finding, PictureFacts
from recommendations.services import analysis, caps
from recommendations.services import execution as executor
from recommendations.services.review import approve_recommendation
from salesai import clock
from signals.models import Signal
from signals.tests.factories import SignalFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC)
PLAYS = 4
FIRING: dict[str, tuple[int, int]] = {}  # toy playbook → (contact id, generation) while it fires
_generation = itertools.count()


def _toy(n: int) -> Playbook:
    code = f"caps_toy_{n}"

    def evaluate(facts: PictureFacts, now: dt.datetime, params=None) -> Finding | None:
        if code not in FIRING:
            return None
        contact_id, generation = FIRING[code]
        return Finding(
            playbook=code,
            code="fires",
            action_type=code,
            title=f"Toy {n} for {facts.contact_name(contact_id)}",
            summary=f"toy {n} fired",
            contact_id=contact_id,
            criteria=(Criterion("fires", "It fires", MET),),
            evidence=(),
            urgency=0.2 + 0.15 * n,
            confidence=0.5,
            why_now="Now.",
            counterfactual="If it did not fire.",
            expires_at=now + dt.timedelta(days=30),
            dedupe_key=f"{code}:{generation}",
        )

    return Playbook(
        code=code,
        label=f"Toy {n}",
        actions=(Action(code=code, label=f"Toy {n}", subject="Hello", body="Hi {{ first_name }}"),),
        evaluate=evaluate,
    )


TOYS = [_toy(n) for n in range(PLAYS)]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("fire"), st.integers(0, PLAYS - 1), st.integers(0, 2)),
        st.tuples(st.just("stop"), st.integers(0, PLAYS - 1), st.just(0)),
        st.tuples(st.just("rep_sends"), st.integers(0, 2), st.just(0)),
        st.tuples(st.just("approve"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("wait"), st.sampled_from([1, 5, 24, 72]), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


def offered_within_caps(account, contacts, policy: OutreachPolicy) -> None:
    now = clock.now()
    # internal notices (e.g. "stop e-mailing Dana, try Sam", to the rep) e-mail no customer: no cap counts them
    offered = Recommendation.objects.filter(account=account, status__in=caps.OFFERED).exclude(
        action_type__in=caps.internal_action_types()
    )
    window = dt.timedelta(days=policy.contact_window_days)
    for contact in contacts:
        sent = Signal.objects.filter(kind="email_sent", contact=contact, occurred_at__gt=now - window).count()
        assert (
            sent + offered.filter(contact=contact).count() <= policy.contact_cap
            or not offered.filter(contact=contact).exists()
        ), f"{contact.email} offered beyond its cap"
    day = Signal.objects.filter(kind="email_sent", account=account, occurred_at__gt=now - caps.DAY).count()
    assert day + offered.count() <= policy.account_daily_cap or not offered.exists(), "account offered beyond its cap"


def sends_within_caps(account, policy: OutreachPolicy) -> None:
    """Each e-mail salesai sent fit the caps counting every e-mail before it (the rep's too)."""
    sent = list(
        Signal.objects.filter(kind="email_sent", account=account)
        .order_by("pk")
        .values("pk", "occurred_at", "contact_id", "properties")
    )
    window = dt.timedelta(days=policy.contact_window_days)
    for ours in (s for s in sent if "recommendation_id" in (s["properties"] or {})):
        at = ours["occurred_at"]
        before = [s for s in sent if s["pk"] <= ours["pk"]]  # stored before it, whatever the clock said
        to_contact = [s for s in before if s["contact_id"] == ours["contact_id"] and at - window < s["occurred_at"]]
        to_account = [s for s in before if at - caps.DAY < s["occurred_at"]]
        assert len(to_contact) <= policy.contact_cap and len(to_account) <= policy.account_daily_cap


@pytest.fixture
def toys():
    for toy in TOYS:
        register(toy)
    yield
    for toy in TOYS:
        unregister(toy)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=steps)
def test_no_contact_is_ever_offered_a_send_beyond_its_cap(toys, mailoutbox, history):
    FIRING.clear()
    mailoutbox.clear()
    with transaction.atomic(), time_machine.travel(T0, tick=False) as traveller:
        rep = UserFactory()
        account = AccountFactory(owner=rep)
        contacts = [ContactFactory(account=account, email=f"p{i}@{account.domain}") for i in range(3)]
        policy = OutreachPolicy.current()
        for op, a, b in history:
            if op == "fire":
                FIRING[TOYS[a].code] = (contacts[b].pk, next(_generation))
            elif op == "stop":
                FIRING.pop(TOYS[a].code, None)
            elif op == "rep_sends":
                SignalFactory(account=account, contact=contacts[a], kind="email_sent", occurred_at=clock.now())
            elif op == "approve":
                pending = list(Recommendation.objects.filter(account=account, status="pending").order_by("pk"))
                if pending:
                    rec = pending[a % len(pending)]
                    approve_recommendation(recommendation=rec, user=rep, version=rec.version)
                    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=False)
            elif op == "wait":
                traveller.shift(dt.timedelta(hours=a))
                analysis.sweep_due_accounts(time_budget=None)
                executor.execute_due_actions()
            analysis.analyze_account(account_id=account.pk, force=True)
            offered_within_caps(account, contacts, policy)
        sends_within_caps(account, policy)
        event(f"held at some point: {AuditEvent.objects.filter(action='recommendation.held').exists()}")
        event(f"salesai sent: {len(mailoutbox) > 0}")
        transaction.set_rollback(True)
