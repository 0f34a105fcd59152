"""How the inbox words things (issue 14): folded evidence, reasons said once, what an action left,
and lead titles that read naturally. Pure functions over unsaved rows: no database."""

from __future__ import annotations

import datetime as dt

from recommendations.models import Evidence, Recommendation
from recommendations.playbooks import speed_to_lead
from recommendations.presentation import (
    evidence_summary,
    left_behind,
    review_reasons,
    short_age,
    why_line,
    without_trailing_date,
)
from recommendations.services.outgoing import Outgoing
from recommendations.tests.test_playbooks import MON, facts, form, h
from trust.models import TrustDecision

FRI = MON + dt.timedelta(days=4)


def fact(kind: str, at: dt.datetime, person: int | None) -> Evidence:
    evidence = Evidence(kind=kind, statement="…", occurred_at=at)
    evidence.person = person
    return evidence


def test_evidence_folds_to_one_line_with_people_and_dates():
    visits = [fact("page_view", MON + h(i), person=1 + i % 2) for i in range(10)]
    visits.append(fact("page_view", FRI + h(4) + dt.timedelta(minutes=57), person=2))
    line = evidence_summary([*visits, fact("email_reply", FRI, person=1)], now=FRI + h(8))
    assert line == "11 visits by 2 people since Mon 16 Nov, last Fri 20 Nov 13:57 · 1 reply on Fri 20 Nov 09:00"
    assert evidence_summary([], now=FRI) == "No dated facts recorded."


def test_trust_reasons_do_not_repeat_the_heading():
    decision = TrustDecision(
        reasons=["Needs review: only 3 of 20 reviews so far.", "Needs review: only 3 of 20 reviews so far."]
    )
    rec = Recommendation(trust_decision=decision)
    assert review_reasons(rec) == ["Only 3 of 20 reviews so far."]


def test_each_action_leaves_one_line():
    to_ines = Outgoing(kind="email", recipient_names=["Ines"])
    scheduled = Recommendation(status="scheduled", scheduled_for=MON + dt.timedelta(seconds=27))
    assert left_behind(scheduled, outgoing=to_ines, now=MON) == "Sending to Ines in 27 s"
    assert left_behind(Recommendation(status="executed"), outgoing=to_ines, now=MON) == "Sent to Ines"
    rejected = Recommendation(status="rejected", closed_reason="Wrong timing")
    assert left_behind(rejected, outgoing=to_ines, now=MON) == "Rejected: Wrong timing"
    snoozed = Recommendation(status="snoozed", snoozed_until=MON + dt.timedelta(days=1))
    assert left_behind(snoozed, outgoing=to_ines, now=MON) == "Snoozed until Tue 17 Nov"


def test_row_age_and_why_line_are_short():
    assert short_age(MON, now=MON + h(3)) == "3 h"
    assert short_age(MON, now=MON + dt.timedelta(minutes=4)) == "4 min"
    assert (
        why_line(Recommendation(why_now="Viewed pricing 3 times. Leads answered fast convert."))
        == "Viewed pricing 3 times"
    )


def test_a_lead_title_reads_naturally_with_or_without_a_known_person():
    known = speed_to_lead.evaluate(facts(forms=(form(1, MON),)), MON + h(1))
    assert known.title == "New lead: Dana Lee at Acme — answer now"
    anonymous = speed_to_lead.evaluate(facts(forms=(form(1, MON, contact_id=None),), contacts=()), MON + h(1))
    assert anonymous.title == "New lead at Acme: “Demo Requested” — answer now"
    assert " at Acme at Acme" not in anonymous.title


def test_each_fact_shows_its_date_once():
    assert without_trailing_date("Dana Lee submitted “Demo” on Mon 16 Nov 09:00") == "Dana Lee submitted “Demo”"
    assert without_trailing_date("Viewed /pricing on Thu 19 Nov") == "Viewed /pricing"
    assert (
        without_trailing_date("Renews on Mon 16 Nov 2026 (10 days away)") == "Renews on Mon 16 Nov 2026 (10 days away)"
    )
