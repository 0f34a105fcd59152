"""Pure tests of the deal playbooks (deal_rescue, multi_thread, champion_gone): frozen facts in, a
finding or none out, no database. A healthy deal gets none of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from recommendations.playbooks import champion_gone, deal_rescue, multi_thread
from recommendations.playbooks.base import ContactFact, DealFact, PictureFacts, SignalFact

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
DANA = ContactFact(id=1, name="Dana Lee", email="dana@acme.com", seniority="manager", title="Ops Manager")
SAM = ContactFact(id=2, name="Sam Roe", email="sam@acme.com", seniority="vp", title="VP Operations")
KIM = ContactFact(id=3, name="Kim Berg", email="kim@acme.com", seniority="director", title="Director of IT")
DEAL_PLAYBOOKS = (deal_rescue, multi_thread, champion_gone)


def d(days: float) -> dt.timedelta:
    return dt.timedelta(days=days)


def reply(i: int, days_ago: float, contact_id: int, intent: str = "interested") -> SignalFact:
    return SignalFact(id=i, kind="email_reply", occurred_at=NOW - d(days_ago), contact_id=contact_id, intent=intent)


def deal(**fields) -> DealFact:
    base = {
        "id": 40,
        "name": "Acme platform",
        "stage": "proposal",
        "amount": Decimal("60000"),
        "close_date": (NOW + d(30)).date(),
        "stage_changed_at": NOW - d(10),
        "opened_at": NOW - d(40),
        "contact_ids": (1, 2),
    }
    return DealFact(**{**base, **fields})


def facts(**fields) -> PictureFacts:
    base = {
        "account_id": 7,
        "account_name": "Acme",
        "domain": "acme.com",
        "as_of": NOW,
        "contacts": (DANA, SAM, KIM),
        "deals": (deal(),),
        "replies": (reply(101, 6, 1), reply(102, 3, 2)),  # Dana and Sam (a VP) both wrote this week
    }
    return PictureFacts(**{**base, **fields})


def run(module, picture: PictureFacts):
    return module.evaluate(picture, NOW, None)


@pytest.mark.parametrize("module", DEAL_PLAYBOOKS, ids=lambda m: m.CODE)
def test_a_healthy_deal_gets_none(module):
    assert run(module, facts()) is None


@pytest.mark.parametrize("module", DEAL_PLAYBOOKS, ids=lambda m: m.CODE)
def test_no_open_deal_gets_none(module):
    assert run(module, facts(deals=())) is None


# --- deal_rescue -----------------------------------------------------------------------------------


def test_stalled_past_the_default_norm_names_stage_days_and_close_date():
    finding = run(deal_rescue, facts(deals=(deal(stage_changed_at=NOW - d(41)),)))
    assert finding.code == "stalled"
    assert "Proposal for 41 days" in finding.summary and "closing 16 Dec" in finding.summary
    assert "41 days, over the 30-day norm (the default your manager set)" in finding.evidence[0].statement
    assert finding.evidence[0].occurred_at == NOW - d(41)
    assert finding.contact_id == 1  # Dana and Sam wrote once each: the first the CRM linked leads
    assert finding.stakes == Decimal("60000") and finding.why_now and finding.counterfactual


def test_stalled_uses_the_won_deals_norm_when_there_is_one():
    picture = facts(deals=(deal(stage_changed_at=NOW - d(20)),), stage_norms={"proposal": 14.0})
    finding = run(deal_rescue, picture)
    assert (
        finding.code == "stalled" and "14-day norm (75% of won deals left it sooner)" in finding.evidence[0].statement
    )
    assert run(deal_rescue, replace(picture, stage_norms={"proposal": 25.0})) is None


def test_manager_default_is_a_parameter():
    picture = facts(deals=(deal(stage_changed_at=NOW - d(20)),))
    assert run(deal_rescue, picture) is None
    assert deal_rescue.evaluate(picture, NOW, {"stall_days": 15}).code == "stalled"


def test_close_date_passed():
    finding = run(deal_rescue, facts(deals=(deal(close_date=(NOW - d(3)).date()),)))
    assert finding.code == "close_date_passed"
    assert "passed 3 days ago" in finding.evidence[0].statement


def test_close_date_moved_out_twice_but_not_once():
    once = ((NOW - d(20), dt.date(2026, 11, 30), dt.date(2026, 12, 10)),)
    twice = (*once, (NOW - d(5), dt.date(2026, 12, 10), dt.date(2026, 12, 16)))
    assert run(deal_rescue, facts(deals=(deal(close_date_pushes=once),))) is None
    finding = run(deal_rescue, facts(deals=(deal(close_date_pushes=twice),)))
    assert finding.code == "close_date_slipped"
    assert "moved out 2 times: 30 Nov → 10 Dec" in finding.evidence[0].statement


def test_ghosted_when_no_one_wrote_for_14_days_while_open():
    finding = run(deal_rescue, facts(replies=(reply(101, 20, 1), reply(102, 15, 2))))
    assert finding.code == "ghosted"
    assert finding.evidence[0].signal_id == 102
    assert "for 15 days" in finding.evidence[0].statement


def test_a_new_deal_is_not_ghosted_before_14_days():
    assert run(deal_rescue, facts(replies=(), deals=(deal(opened_at=NOW - d(10)),))) is None
    assert run(deal_rescue, facts(replies=(), deals=(deal(opened_at=NOW - d(15)),))).code == "ghosted"


def test_auto_replies_do_not_keep_a_deal_alive():
    ooo = SignalFact(id=103, kind="email_reply", occurred_at=NOW - d(1), contact_id=1, is_auto_reply=True)
    assert run(deal_rescue, facts(replies=(reply(101, 20, 1), ooo))).code == "ghosted"


def test_deal_rescue_next_check_is_the_first_moment_a_trouble_begins():
    picture = facts(deals=(deal(stage_changed_at=NOW - d(10), close_date=None, opened_at=NOW - d(10)),))
    assert deal_rescue.next_check(picture, NOW, None) == NOW + d(11)  # Sam wrote 3 days ago: 14 quiet days
    assert deal_rescue.next_check(replace(picture, replies=()), NOW, None) == NOW + d(4)  # opened 10 days ago


# --- multi_thread ----------------------------------------------------------------------------------


def test_single_threaded_large_deal_proposes_the_most_senior_known_person():
    finding = run(multi_thread, facts(replies=(reply(101, 6, 1),)))
    assert finding.code == "single_threaded"
    assert finding.contact_id == 2  # Sam, VP, known but not in the conversation
    assert "bring in Sam Roe (VP Operations)" in finding.title
    assert "most senior person" in finding.why_now


def test_no_senior_among_several_engaged_people():
    picture = facts(
        contacts=(DANA, replace(SAM, seniority="individual"), KIM), replies=(reply(1, 6, 1), reply(2, 3, 2))
    )
    finding = run(multi_thread, picture)
    assert finding.code == "no_senior" and finding.contact_id == 3  # Kim, director


def test_knowing_no_one_else_asks_the_champion_for_a_referral():
    finding = run(multi_thread, facts(contacts=(DANA,), replies=(reply(101, 6, 1),)))
    assert finding.contact_id == 1 and finding.draft_context["referral_ask"] is True
    assert "ask Dana Lee who else should weigh in" in finding.title


def test_small_deals_need_no_committee():
    picture = facts(deals=(deal(amount=Decimal("24999")),), replies=(reply(101, 6, 1),))
    assert run(multi_thread, picture) is None
    assert multi_thread.evaluate(picture, NOW, {"min_amount": 10000}) is not None


def test_no_one_engaged_is_not_multi_threading():
    assert run(multi_thread, facts(replies=())) is None


# --- champion_gone ---------------------------------------------------------------------------------


def test_wrong_person_from_the_champion_proposes_the_next_contact():
    replies = (reply(101, 20, 1), reply(102, 12, 1), reply(103, 2, 1, intent="wrong_person"))
    finding = run(champion_gone, facts(replies=replies, suppressed={1: "replied “wrong person”"}))
    assert finding.code == "wrong_person"
    assert finding.contact_id == 2  # Sam: on the deal, and the most senior
    assert finding.evidence[0].signal_id == 103
    assert "Dana Lee, the main contact of the $60,000 deal" in finding.summary


def test_bounce_of_the_champion():
    bounce = SignalFact(id=110, kind="email_bounced", occurred_at=NOW - d(1), contact_id=1)
    finding = run(champion_gone, facts(replies=(reply(101, 20, 1),), bounces=(bounce,), suppressed={1: "bounced"}))
    assert finding.code == "bounced" and finding.evidence[0].signal_id == 110


def test_champion_left_per_the_crm():
    gone = replace(DANA, do_not_contact=True, do_not_contact_reason="Left the company")
    picture = facts(contacts=(gone, SAM, KIM), replies=(reply(101, 20, 1),), suppressed={1: "do not contact"})
    assert run(champion_gone, picture).code == "left"


def test_a_withheld_wrong_person_from_an_unverified_sender_does_nothing():
    forged = SignalFact(
        id=103, kind="email_reply", occurred_at=NOW - d(1), contact_id=1, intent="wrong_person", effect_withheld=True
    )
    assert run(champion_gone, facts(replies=(reply(101, 20, 1), forged))) is None


def test_someone_else_saying_wrong_person_is_not_the_champion_leaving():
    replies = (reply(101, 10, 1), reply(102, 5, 1), reply(103, 2, 3, intent="wrong_person"))
    assert run(champion_gone, facts(replies=replies, deals=(deal(contact_ids=(1, 3)),))) is None


def meeting(i: int, days_ago: float, contact_id: int) -> SignalFact:
    return SignalFact(id=i, kind="meeting_booked", occurred_at=NOW - d(days_ago), contact_id=contact_id)


def test_meetings_count_as_engagement_for_all_three():
    picture = facts(replies=(), meetings=(meeting(201, 4, 1), meeting(202, 4, 2)))
    assert all(run(module, picture) is None for module in DEAL_PLAYBOOKS)
    quiet = facts(replies=(), meetings=(meeting(201, 16, 1), meeting(202, 16, 2)))
    finding = run(deal_rescue, quiet)
    assert finding.code == "ghosted" and "last booked a meeting on" in finding.evidence[0].statement


def test_a_refusal_is_not_engagement():
    picture = facts(replies=(reply(101, 6, 1), reply(102, 3, 2, intent="not_interested")))
    assert run(multi_thread, picture).code == "single_threaded"


def test_the_crm_saying_the_champion_left_is_news_after_a_wrong_person():
    replies = (reply(101, 20, 1), reply(103, 9, 1, intent="wrong_person"))
    said = run(champion_gone, facts(replies=replies, suppressed={1: "wrong person"}))
    gone = replace(DANA, do_not_contact=True, do_not_contact_reason="Left the company")
    left = run(champion_gone, facts(contacts=(gone, SAM, KIM), replies=replies, suppressed={1: "left"}))
    assert (said.code, left.code) == ("wrong_person", "left")
    assert said.dedupe_key != left.dedupe_key  # a decided "wrong person" does not hide the CRM's word


def test_the_main_contact_is_the_crms_first_even_when_a_colleague_meets_more():
    meetings = (meeting(201, 9, 2), meeting(202, 6, 2), meeting(203, 3, 2), meeting(204, 3, 1))
    gone = replace(DANA, do_not_contact=True, do_not_contact_reason="Left the company")
    picture = facts(contacts=(gone, SAM, KIM), replies=(), meetings=meetings, suppressed={1: "left"})
    finding = run(champion_gone, picture)
    assert finding.code == "left" and finding.contact_id == 2


def test_without_people_on_the_deal_the_most_engaged_leads():
    replies = (reply(101, 9, 2), reply(102, 6, 2), reply(103, 2, 2, intent="wrong_person"))
    finding = run(champion_gone, facts(deals=(deal(contact_ids=()),), replies=replies, suppressed={2: "wrong person"}))
    assert finding.code == "wrong_person" and finding.contact_id == 3  # Kim, the next most senior


def test_champion_left_and_no_one_else_may_be_emailed_still_tells_the_rep():
    """The deal still needs a new champion: a finding with no recipient yet, saying why no one can be
    e-mailed (seed 1: the only colleague had answered "not interested" to a pricing e-mail)."""
    gone = replace(DANA, do_not_contact=True, do_not_contact_reason="Left the company")
    picture = facts(
        contacts=(gone, SAM),
        deals=(deal(contact_ids=(1, 2)),),
        replies=(reply(101, 20, 1), reply(102, 9, 2, intent="not_interested")),
        meetings=(meeting(201, 3, 2),),
        suppressed={1: "do not contact: Left the company", 2: "replied “not interested” on 7 Nov 2026"},
    )
    finding = run(champion_gone, picture)
    assert (finding.code, finding.contact_id) == ("left", None)
    assert finding.title == "Dana Lee, who led Acme platform, left the company: find who picks it up"
    assert "Sam Roe: replied “not interested” on 7 Nov 2026" in finding.why_now
    assert [c.state for c in finding.criteria if c.code == "successor"] == ["not_met"]


def test_champion_left_with_a_colleague_reachable_names_them():
    gone = replace(DANA, do_not_contact=True, do_not_contact_reason="Left the company")
    picture = facts(contacts=(gone, SAM), deals=(deal(contact_ids=(1, 2)),), suppressed={1: "left"})
    finding = run(champion_gone, picture)
    assert finding.contact_id == 2 and finding.title.endswith(": talk to Sam Roe")
    assert [c.state for c in finding.criteria if c.code == "successor"] == ["met"]


def test_a_deal_without_anyone_else_known_still_needs_a_champion():
    gone = replace(DANA, do_not_contact=True, do_not_contact_reason="Left the company")
    finding = run(champion_gone, facts(contacts=(gone,), deals=(deal(contact_ids=(1,)),), suppressed={1: "left"}))
    assert finding.contact_id is None and "we know no one else there" in finding.why_now
