"""Issue 14: no recommendation is created already expired (finding 8), a row says when it expires, and a
reply the reasoning cites is in the evidence list (finding 7)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recommendations.models import ActionType, Recommendation
from recommendations.presentation import expires_line
from recommendations.services import analysis
from recommendations.tests.test_engine import T0, acme, at, on_commit, reply  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_a_reply_analysed_after_its_moment_passed_makes_no_recommendation(acme, on_commit):  # noqa: F811
    account, dana, _ = acme
    with time_machine.travel(at(1), tick=False):
        reply(on_commit, dana, at(1), "interested")  # analysed on arrival: proposed, with its expiry
    rec = Recommendation.objects.get(account=account, action_type=ActionType.REPLY)
    assert rec.expires_at > at(1)
    line = expires_line(rec, now=at(1))
    assert line.startswith("Expires ") and line != "Expired"
    rec.delete()  # as if it had never been proposed: the same reply, first analysed long after
    with time_machine.travel(rec.expires_at + dt.timedelta(hours=1), tick=False):
        analysis.analyze_account(account_id=account.pk, force=True)
    assert not Recommendation.objects.filter(account=account, action_type=ActionType.REPLY).exists()


def test_an_open_recommendation_is_still_expired_by_the_sweep_with_its_reason(acme, on_commit):  # noqa: F811
    account, dana, _ = acme
    with time_machine.travel(at(1), tick=False):
        reply(on_commit, dana, at(1), "interested")
    rec = Recommendation.objects.get(account=account, action_type=ActionType.REPLY)
    with time_machine.travel(rec.expires_at + dt.timedelta(hours=1), tick=False):
        analysis.sweep_due_accounts()
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.EXPIRED
    assert rec.expires_at > T0


def test_a_reply_the_story_cites_is_in_the_evidence_list(acme, on_commit):  # noqa: F811
    """Finding 7 of issue 14: the reasoning said "Dana Lee's reply on 16 Nov was negative" but the
    evidence list did not show that reply."""
    from recommendations.tests.test_engine import Ingest, one, send

    account, dana, sam = acme
    ingest = Ingest()
    answer = reply(on_commit, sam, at(0, 3), "not_interested", sentiment=-0.6)
    for day in (0, 1, 2):
        send(ingest, on_commit, at(day, 5, 2), "page_view", email=dana.email, properties={"path": "/pricing"})
    rec = one(account, ActionType.PRICING_OUTREACH)
    assert "reply on 16 Nov was negative" in rec.reasoning
    cited = rec.evidence.get(signal_id=answer.pk)
    assert cited.statement == "Sam Roe replied on 16 Nov" and cited.kind == "email_reply"
