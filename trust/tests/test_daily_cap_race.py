"""The daily cap holds when workers decide at once (PostgreSQL, real threads and connections)."""

from __future__ import annotations

import random
import threading

from django.db import transaction

from conftest import in_threads
from trust import selectors, services
from trust.models import TrustDecision
from trust.tests.factories import TrustPolicyFactory, give_record

WORKERS = 4


def test_workers_deciding_at_once_never_pass_the_daily_cap(require_postgres, transactional_db, monkeypatch):
    TrustPolicyFactory(domain="follow_up", daily_cap=1, review_sample_rate=0.0)
    give_record("follow_up", approved=80)
    # every worker reads today's count before any of them has written its decision: the race
    everyone_counted = threading.Barrier(WORKERS)
    counted = threading.local()
    count = selectors.kill_switch_and_autonomous_today

    def count_then_wait(domain, *, now):
        result = count(domain, now=now)
        if not getattr(counted, "once", False):
            counted.once = True
            everyone_counted.wait(timeout=30)
        return result

    monkeypatch.setattr(selectors, "kill_switch_and_autonomous_today", count_then_wait)
    verdicts: list[str] = []

    def decide():
        with transaction.atomic():  # as in an analysis: the decision commits with the recommendation
            verdicts.append(services.decide(domain="follow_up", stakes=1, rng=random.Random(1)).verdict)

    errors = in_threads(decide, WORKERS)
    assert not errors, errors
    assert sorted(verdicts) == ["autonomous"] + ["review"] * (WORKERS - 1)
    assert TrustDecision.objects.filter(verdict="autonomous").count() == 1
    capped = TrustDecision.objects.filter(verdict="review")
    assert all("the daily cap of 1 autonomous" in " ".join(d.reasons) for d in capped)
