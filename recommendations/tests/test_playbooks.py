"""Pure tests of each playbook rule: frozen facts in, a finding (or none) out — no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from recommendations.models import ActionType
from recommendations.playbooks import (
    all_playbooks,
    get_playbook,
    goal_crossed,
    going_dark,
    pricing_interest,
    renewal,
    reply_waiting,
    speed_to_lead,
)
from recommendations.playbooks import check_in as check_in_pb
from recommendations.playbooks import unanswered_outreach as outreach
from recommendations.playbooks.base import (
    MET,
    NOT_MET,
    ContactFact,
    ContractFact,
    GoalFact,
    PictureFacts,
    SignalFact,
    add_business_days,
)

MON = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
DANA = ContactFact(id=1, name="Dana Lee", email="dana@acme.com", seniority="director")
SAM = ContactFact(id=2, name="Sam Roe", email="sam@acme.com", seniority="vp")


def facts(**fields) -> PictureFacts:
    base = {
        "account_id": 7,
        "account_name": "Acme",
        "domain": "acme.com",
        "as_of": MON,
        "arr": Decimal("48000"),
        "seats": 50,
        "contacts": (DANA, SAM),
    }
    return PictureFacts(**{**base, **fields})


def visit(i: int, at: dt.datetime, contact_id: int | None = 1) -> SignalFact:
    return SignalFact(id=i, kind="page_view", occurred_at=at, contact_id=contact_id, path="/pricing")


def sent(i: int, at: dt.datetime, contact_id: int = 1) -> SignalFact:
    return SignalFact(id=i, kind="email_sent", occurred_at=at, contact_id=contact_id, subject="Quick question")


def reply(i: int, at: dt.datetime, intent: str, contact_id: int = 1, **kw) -> SignalFact:
    return SignalFact(id=i, kind="email_reply", occurred_at=at, contact_id=contact_id, intent=intent, **kw)


def h(hours: float) -> dt.timedelta:
    return dt.timedelta(hours=hours)


def d(days: float) -> dt.timedelta:
    return dt.timedelta(days=days)


# --- registry -------------------------------------------------------------------------------------


def test_registry_lists_every_playbook_with_defaults_and_help():
    codes = {p.code for p in all_playbooks()}
    assert codes >= {
        "pricing_interest",
        "reply_waiting",
        "check_in",
        "unanswered_outreach",
        "renewal",
        "going_dark",
        "goal_crossed",
        "speed_to_lead",
    }
    for playbook in all_playbooks():
        assert set(playbook.defaults) == set(playbook.param_help), playbook.code
        assert all("Example" in text for text in playbook.param_help.values()), playbook.code


def test_params_override_defaults():
    assert get_playbook("pricing_interest").params({"min_visits": 5})["min_visits"] == 5
    assert get_playbook("pricing_interest").params()["window_days"] == 7


# --- 1. pricing interest --------------------------------------------------------------------------


def test_pricing_three_visits_in_a_week_is_a_finding_with_dates():
    picture = facts(pricing_visits=(visit(1, MON), visit(2, MON + d(1)), visit(3, MON + d(3) + h(5.03))))
    finding = pricing_interest.evaluate(picture, MON + d(3) + h(6))
    assert finding.action_type == ActionType.PRICING_OUTREACH
    assert finding.summary == "Acme visited your pricing page 3 times since Mon 16 Nov (last Thu 19 Nov 14:01)"
    assert [e.signal_id for e in finding.evidence] == [1, 2, 3]
    assert finding.contact_id == 1
    assert finding.criteria[0].state == MET
    assert finding.dedupe_key == "pricing_interest:3"


def test_pricing_two_visits_or_an_aged_out_one_is_no_finding():
    two = facts(pricing_visits=(visit(1, MON), visit(2, MON + d(1))))
    assert pricing_interest.evaluate(two, MON + d(2)) is None
    aged = facts(pricing_visits=(visit(1, MON), visit(2, MON + d(1)), visit(3, MON + d(2))))
    assert (
        pricing_interest.evaluate(
            aged,
            MON
            + d(
                7,
            )
            + h(1),
        )
        is None
    )


def test_pricing_threshold_is_configurable():
    picture = facts(pricing_visits=(visit(1, MON), visit(2, MON + d(1)), visit(3, MON + d(2))))
    assert pricing_interest.evaluate(picture, MON + d(2), {"min_visits": 4}) is None


def test_pricing_views_of_one_visitor_seconds_apart_are_one_visit():
    """A mail gateway's scanner posing as a browser opens /pricing, /pricing#plans … within a second."""
    s = dt.timedelta(seconds=1)
    rapid = facts(pricing_visits=(visit(1, MON), visit(2, MON + s), visit(3, MON + 2 * s)))
    assert pricing_interest.evaluate(rapid, MON + h(1)) is None
    # two people at the same moment are two visits; a later look by the first is a third
    people = facts(pricing_visits=(visit(1, MON), visit(2, MON + s, contact_id=2), visit(3, MON + h(0.5))))
    finding = pricing_interest.evaluate(people, MON + h(1))
    assert [e.signal_id for e in finding.evidence] == [1, 2, 3]
    # the gap is a setting
    assert pricing_interest.evaluate(rapid, MON + h(1), {"same_visit_seconds": 0}) is not None


def test_pricing_next_check_is_when_the_oldest_visit_ages_out():
    picture = facts(pricing_visits=(visit(1, MON), visit(2, MON + d(1)), visit(3, MON + d(2))))
    assert pricing_interest.next_check(picture, MON + d(2)) == MON + d(7)


def test_pricing_visits_before_the_last_action_do_not_count():
    picture = facts(
        pricing_visits=(visit(1, MON), visit(2, MON + d(1)), visit(3, MON + d(2))),
        last_actioned={
            ActionType.PRICING_OUTREACH: MON
            + d(
                1,
            )
            + h(1)
        },
    )
    assert pricing_interest.evaluate(picture, MON + d(2)) is None


def test_pricing_never_targets_a_suppressed_visitor():
    picture = facts(
        pricing_visits=(visit(1, MON), visit(2, MON + d(1)), visit(3, MON + d(2))),
        suppressed={1: "unsubscribed on 10 Nov 2026"},
    )
    finding = pricing_interest.evaluate(picture, MON + d(2))
    assert finding.contact_id == 2  # Sam, not Dana
    everyone = replace(picture, suppressed={1: "unsubscribed", 2: "do not contact"})
    assert pricing_interest.evaluate(everyone, MON + d(2)) is None


# --- 2. reply waiting -----------------------------------------------------------------------------


def test_interested_reply_without_answer_waits():
    picture = facts(
        emails_sent=(sent(1, MON),),
        replies=(reply(2, MON + d(2), "interested", sentiment=0.6, intent_confidence=0.9),),
    )
    finding = reply_waiting.evaluate(picture, MON + d(3))
    assert finding.action_type == ActionType.REPLY
    assert finding.contact_id == 1
    assert "Dana Lee replied on Wed 18 Nov" in finding.summary
    assert finding.counterfactual == "If anyone had e-mailed Dana Lee after 18 Nov."
    assert finding.evidence[0].signal_id == 2


def test_answered_reply_does_not_wait():
    picture = facts(emails_sent=(sent(1, MON), sent(3, MON + d(2) + h(1))), replies=(reply(2, MON + d(2), "question"),))
    assert reply_waiting.evaluate(picture, MON + d(3)) is None


def test_auto_reply_and_not_interested_do_not_wait():
    auto = facts(replies=(reply(2, MON, "interested", is_auto_reply=True),))
    assert reply_waiting.evaluate(auto, MON + d(1)) is None
    declined = facts(replies=(reply(2, MON, "not_interested"),))
    assert reply_waiting.evaluate(declined, MON + d(1)) is None


def test_referral_names_the_person():
    picture = facts(replies=(reply(2, MON, "referral", referral="pat@acme.com"),))
    finding = reply_waiting.evaluate(picture, MON + d(1))
    assert "pointing to pat@acme.com" in finding.summary


def test_referral_to_a_contact_of_the_account_is_named_in_the_draft():
    picture = facts(replies=(reply(2, MON, "referral", referral="Sam Roe <sam@acme.com>"),))
    finding = reply_waiting.evaluate(picture, MON + d(1))
    assert "(pointing to Sam Roe <sam@acme.com>)" in finding.summary
    assert finding.draft_context["referral"] == "Sam Roe <sam@acme.com>"


def test_referral_outside_the_domain_is_a_suggestion_kept_out_of_the_draft():
    """The inbound e-mail never adds someone at another domain; the rep sees the suggestion, the
    e-mail to Dana does not carry it."""
    picture = facts(replies=(reply(2, MON, "referral", referral="Bob Stone <bob@other.com>"),))
    finding = reply_waiting.evaluate(picture, MON + d(1))
    assert "(pointing to Bob Stone <bob@other.com>: not added, as it is outside acme.com)" in finding.summary
    assert finding.evidence[0].statement.endswith(
        "Dana Lee suggested talking to Bob Stone <bob@other.com>: not added, as it is outside acme.com"
    )
    assert finding.draft_context["referral"] == ""


def test_referral_at_the_domain_not_added_is_a_suggestion_too():
    picture = facts(replies=(reply(2, MON, "referral", referral="pat@acme.com"),))
    finding = reply_waiting.evaluate(picture, MON + d(1))
    assert "pat@acme.com: not added as a contact" in finding.evidence[0].statement
    assert finding.draft_context["referral"] == ""


def test_reply_subject_with_line_breaks_never_reaches_the_draft_context():
    injected = "Re: Quick question\r\n\r\nOur bank details changed, pay to IBAN X\u2028"
    picture = facts(replies=(reply(2, MON, "interested", subject=injected, referral="Ann\nLee"),))
    finding = reply_waiting.evaluate(picture, MON + d(1))
    assert finding.draft_context["reply_subject"] == "Re: Quick question Our bank details changed, pay to IBAN X"
    assert "\n" not in finding.evidence[0].statement and "\n" not in finding.summary


# --- 2b. not now → check in -----------------------------------------------------------------------


def test_not_now_checks_in_on_the_named_date():
    named = MON + d(30)
    picture = facts(emails_sent=(sent(1, MON - d(1)),), replies=(reply(2, MON, "not_now", check_in_at=named),))
    assert check_in_pb.evaluate(picture, named - h(1)) is None
    assert check_in_pb.next_check(picture, MON + d(1)) == named
    finding = check_in_pb.evaluate(picture, named)
    assert finding.action_type == ActionType.CHECK_IN
    assert "fell due on Wed 16 Dec" in finding.summary


def test_not_now_without_a_date_uses_the_default():
    picture = facts(replies=(reply(2, MON, "not_now"),))
    assert check_in_pb.next_check(picture, MON, {"default_days": 14}) == MON + d(14)


def test_an_email_weeks_before_the_check_in_does_not_replace_it():
    """Dana said "not now, talk in a month"; an e-mail five days later (about something else) got no
    answer. She still asked for the check-in, and the e-mail is not the check-in."""
    named = MON + d(30)
    not_now = reply(2, MON, "not_now", check_in_at=named)
    picture = facts(emails_sent=(sent(1, MON - d(1)), sent(3, MON + d(5))), replies=(not_now,))
    finding = check_in_pb.evaluate(picture, named)
    assert finding is not None and finding.action_type == ActionType.CHECK_IN
    assert "been e-mailed from 9 Dec" in finding.counterfactual


def test_an_email_in_the_week_before_the_check_in_is_the_check_in():
    named = MON + d(30)
    not_now = reply(2, MON, "not_now", check_in_at=named)
    early = facts(emails_sent=(sent(3, named - d(6)),), replies=(not_now,))
    assert check_in_pb.evaluate(early, named) is None
    assert check_in_pb.next_check(early, MON + d(1)) is None
    answered = facts(replies=(not_now, reply(4, MON + d(3), "question")))
    assert check_in_pb.evaluate(answered, named) is None


# --- 3. unanswered outreach -----------------------------------------------------------------------


def test_business_days_skip_the_weekend():
    friday = MON + d(4)
    assert add_business_days(friday, 3) == friday + d(5)  # Fri → Wed


def test_no_reply_after_three_business_days_follows_up():
    picture = facts(emails_sent=(sent(1, MON),))
    assert outreach.evaluate(picture, MON + d(2)) is None
    assert outreach.next_check(picture, MON) == MON + d(3)
    finding = outreach.evaluate(picture, MON + d(3))
    assert finding.action_type == ActionType.FOLLOW_UP
    assert finding.summary == "1 e-mail to Dana Lee since Mon 16 Nov has had no reply (last Mon 16 Nov)"
    assert finding.counterfactual == "If Dana Lee had replied after 16 Nov."


def test_a_reply_or_a_meeting_answers_outreach():
    replied = facts(emails_sent=(sent(1, MON),), replies=(reply(2, MON + d(1), "question"),))
    assert outreach.evaluate(replied, MON + d(10)) is None
    met = facts(
        emails_sent=(sent(1, MON),),
        meetings=(SignalFact(id=3, kind="meeting_booked", occurred_at=MON + d(1), contact_id=1),),
    )
    assert outreach.evaluate(met, MON + d(10)) is None


def test_after_the_last_attempt_suggest_another_contact():
    picture = facts(emails_sent=(sent(1, MON - d(14)), sent(2, MON - d(7)), sent(3, MON)))
    finding = outreach.evaluate(picture, MON + d(3))
    assert finding.action_type == ActionType.CHANGE_CONTACT
    assert finding.contact_id == 2  # Sam
    assert "try Sam Roe" in finding.title
    assert {c.code: c.state for c in finding.criteria}["attempts_left"] == NOT_MET


def test_every_unanswered_email_is_an_attempt_whoever_sent_it_and_however_close():
    """Pinned on purpose (issue 16): the rep's first e-mail, salesai's follow-up three days later and the
    rep's own follow-up the next morning are three unanswered e-mails to Dana: another person is the
    next step. The simulated world counts only its rep's sequence there (it cannot see salesai's
    e-mail) and calls this "follow up once more"; merging e-mails sent close together would agree with
    it, but disagree with the market's answers to salesai's own e-mails, which count every one (on seed
    1, merging within 3 working days fixed 36 such false alarms and lost 89 right change_contacts)."""
    rep_first = SignalFact(id=1, kind="email_sent", occurred_at=MON + h(4), contact_id=1)
    ours = SignalFact(id=2, kind="email_sent", occurred_at=MON + d(3) + h(5), contact_id=1)
    rep_again = SignalFact(id=3, kind="email_sent", occurred_at=MON + d(4) + h(2), contact_id=1)
    picture = facts(emails_sent=(rep_first, ours, rep_again))
    finding = outreach.evaluate(picture, MON + d(9) + h(3))
    assert finding.action_type == ActionType.CHANGE_CONTACT
    assert finding.summary.startswith("3 e-mails to Dana Lee since Mon 16 Nov have had no reply")
    two = facts(emails_sent=(rep_first, ours))
    assert outreach.evaluate(two, MON + d(9)).action_type == ActionType.FOLLOW_UP  # attempt 3 of 3


def test_after_the_last_attempt_with_nobody_else_suggest_another_channel():
    picture = facts(contacts=(DANA,), emails_sent=(sent(1, MON - d(14)), sent(2, MON - d(7)), sent(3, MON)))
    finding = outreach.evaluate(picture, MON + d(3))
    assert finding.action_type == ActionType.CHANGE_CONTACT
    assert "call or LinkedIn" in finding.title


def test_not_now_pauses_follow_ups_until_the_check_in():
    """An e-mail to someone who asked for a month's quiet is not followed up three days later: the
    pause lasts until the week before the check-in date, and from there e-mails count again."""
    named = MON + d(30)
    not_now = reply(2, MON, "not_now", check_in_at=named)
    between = facts(emails_sent=(sent(1, MON - d(1)), sent(3, MON + d(2))), replies=(not_now,))
    assert outreach.evaluate(between, MON + d(20)) is None
    assert outreach.next_check(between, MON) is None
    check_in_mail = sent(4, named)
    after = facts(emails_sent=(sent(1, MON - d(1)), sent(3, MON + d(2)), check_in_mail), replies=(not_now,))
    finding = outreach.evaluate(after, add_business_days(named, 3))
    assert finding.action_type == ActionType.FOLLOW_UP
    assert finding.summary.startswith("1 e-mail to Dana Lee since Wed 16 Dec")
    # no date named: the check-in playbook's default of 30 days
    paused = facts(emails_sent=(sent(3, MON + d(22)),), replies=(reply(2, MON, "not_now"),))
    assert outreach.evaluate(paused, MON + d(28)) is None
    counted = facts(emails_sent=(sent(3, MON + d(23) + h(1)),), replies=(reply(2, MON, "not_now"),))
    assert outreach.evaluate(counted, MON + d(29)).action_type == ActionType.FOLLOW_UP
    other = facts(emails_sent=(sent(5, MON + d(2), contact_id=2),), replies=(not_now,))
    assert outreach.evaluate(other, MON + d(8)).contact_id == 2  # Sam never said "not now"


def test_unsubscribed_contact_gets_no_follow_up():
    picture = facts(emails_sent=(sent(1, MON),), suppressed={1: "unsubscribed on 17 Nov 2026"})
    assert outreach.evaluate(picture, MON + d(5)) is None


# --- 4. renewal -----------------------------------------------------------------------------------


def contract(days_from_mon: int) -> ContractFact:
    return ContractFact(id=3, value=Decimal("48000"), renewal_date=(MON + d(days_from_mon)).date())


def test_renewal_enters_the_90_60_30_windows():
    picture = facts(contracts=(contract(100),), engagement_score=0.6)
    assert renewal.evaluate(picture, MON) is None
    assert renewal.next_check(picture, MON) == dt.datetime.combine((MON + d(10)).date(), dt.time(), tzinfo=dt.UTC)
    finding = renewal.evaluate(picture, MON + d(42))
    assert finding.action_type == ActionType.RENEWAL_OUTREACH
    assert finding.dedupe_key == "renewal:3:60"
    assert finding.summary == "their $48,000 contract renews in 58 days (24 Feb)"
    assert finding.stakes == Decimal("48000")


def test_renewal_with_low_engagement_is_a_churn_escalation():
    picture = facts(contracts=(contract(30),), engagement_score=0.05)
    finding = renewal.evaluate(picture, MON)
    assert finding.action_type == ActionType.CHURN_ESCALATION
    assert finding.dedupe_key == "churn:3:30"


def test_renewal_passed_is_no_finding():
    assert renewal.evaluate(facts(contracts=(contract(-1),)), MON) is None


# --- 5. going dark --------------------------------------------------------------------------------


def test_engaged_account_silent_for_three_weeks_goes_dark():
    picture = facts(
        last_activity_at=MON, last_activity_signal_id=9, activity_before_silence=25, active_days_before_silence=6
    )
    assert going_dark.evaluate(picture, MON + d(20)) is None
    assert going_dark.next_check(picture, MON + d(1)) == MON + d(21)
    finding = going_dark.evaluate(picture, MON + d(21))
    assert finding.action_type == ActionType.RE_ENGAGE
    assert "silent for 21 days since Mon 16 Nov, after 25 signals" in finding.summary


def test_outreach_since_the_silence_holds_going_dark_while_its_follow_ups_are_due():
    """Seed 1 had 0 of 10 going-dark moments: salesai's own e-mails after the last activity kept the
    rule quiet for good, even once unanswered outreach had nothing left to say."""
    e_mails = (sent(31, MON + d(3)), sent(32, MON + d(8), contact_id=2))
    picture = facts(
        last_activity_at=MON,
        last_activity_signal_id=9,
        activity_before_silence=25,
        active_days_before_silence=6,
        emails_sent=e_mails,
    )
    assert going_dark.evaluate(picture, MON + d(20)) is None  # not three weeks yet
    assert going_dark.next_check(picture, MON + d(1)) == MON + d(18)  # the e-mails' grace ends first
    assert going_dark.next_check(picture, MON + d(18)) == MON + d(21)
    finding = going_dark.evaluate(picture, MON + d(21))
    assert finding.action_type == ActionType.RE_ENGAGE
    assert "; 2 e-mails since got no answer (last Tue 24 Nov)" in finding.summary
    assert [e.signal_id for e in finding.evidence] == [9, 31, 32]
    assert "E-mail to Sam Roe on Tue 24 Nov got no answer" in finding.evidence[-1].statement


def test_a_recent_email_to_a_silent_account_is_followed_up_not_re_engaged():
    picture = facts(
        last_activity_at=MON,
        last_activity_signal_id=9,
        activity_before_silence=25,
        active_days_before_silence=6,
        emails_sent=(sent(31, MON + d(19)),),
    )
    assert going_dark.evaluate(picture, MON + d(21)) is None
    assert going_dark.evaluate(picture, MON + d(28)) is None  # 9 days after the e-mail
    assert going_dark.evaluate(picture, MON + d(29)) is not None


def test_outreach_grace_is_a_playbook_setting():
    picture = facts(
        last_activity_at=MON,
        last_activity_signal_id=9,
        activity_before_silence=25,
        active_days_before_silence=6,
        emails_sent=(sent(31, MON + d(19)),),
    )
    assert going_dark.evaluate(picture, MON + d(21), {"outreach_grace_days": 1}) is not None


def test_one_burst_of_activity_is_not_engagement():
    """Twenty signals on three days, then nothing: a visit that ended, not an account gone quiet."""
    burst = facts(
        last_activity_at=MON, last_activity_signal_id=9, activity_before_silence=20, active_days_before_silence=3
    )
    assert going_dark.evaluate(burst, MON + d(21)) is None
    assert going_dark.next_check(burst, MON + d(1)) is None
    steady = replace(burst, active_days_before_silence=4)
    finding = going_dark.evaluate(steady, MON + d(21))
    assert "after 20 signals on 4 days in the 4 weeks before" in finding.summary
    assert finding.criteria[0].label == "At least 10 signals on at least 4 days in the 4 weeks before the silence"
    assert going_dark.evaluate(burst, MON + d(21), {"min_active_days": 3}) is not None  # a playbook setting


def test_quiet_account_that_never_engaged_is_not_dark():
    picture = facts(last_activity_at=MON, activity_before_silence=2)
    assert going_dark.evaluate(picture, MON + d(30)) is None


# --- 6. goal crossed ------------------------------------------------------------------------------


def seat_goal(**kw) -> GoalFact:
    base = {
        "id": 4,
        "name": "Seat usage reaches 80%",
        "metric": "seat_utilization",
        "comparator": "gte",
        "threshold": 0.8,
        "is_met": False,
        "crossings": 0,
    }
    return GoalFact(**{**base, **kw})


def test_goal_crossing_fires_once_per_crossing():
    crossing = facts(goals=(seat_goal(),), metrics={"seat_utilization": 0.84}, active_users_7d=42)
    finding = goal_crossed.evaluate(crossing, MON)
    assert finding.action_type == ActionType.EXPANSION
    assert finding.dedupe_key == "goal_crossed:4:1"
    assert "84% (42 of 50 seats active in 7 days)" in finding.summary
    assert finding.stakes == Decimal("9600")  # 10 seats at $960
    # still above after the crossing was recorded: the same crossing (same key), not a new one
    held = replace(crossing, goals=(seat_goal(is_met=True, crossings=1, last_crossed_at=MON),))
    assert goal_crossed.evaluate(held, MON + d(1)).dedupe_key == "goal_crossed:4:1"
    # falls back: no finding (re-armed); crosses again: the second crossing
    below = replace(held, metrics={"seat_utilization": 0.7})
    assert goal_crossed.evaluate(below, MON + d(2)) is None
    again = replace(crossing, goals=(seat_goal(is_met=False, crossings=1),))
    assert goal_crossed.evaluate(again, MON + d(3)).dedupe_key == "goal_crossed:4:2"


# --- 7. speed to lead -----------------------------------------------------------------------------


def form(i: int, at: dt.datetime, contact_id: int | None = 1) -> SignalFact:
    return SignalFact(id=i, kind="form_submitted", occurred_at=at, contact_id=contact_id, name="Demo Requested")


def test_demo_request_is_an_urgent_lead():
    finding = speed_to_lead.evaluate(facts(forms=(form(1, MON),)), MON + h(1))
    assert finding.action_type == ActionType.SPEED_TO_LEAD
    assert finding.urgency == 1.0
    assert finding.summary == "Dana Lee submitted “Demo Requested” on Mon 16 Nov 09:00"


def test_answered_or_old_lead_is_no_finding():
    answered = facts(forms=(form(1, MON),), emails_sent=(sent(2, MON + h(2)),))
    assert speed_to_lead.evaluate(answered, MON + h(3)) is None
    assert speed_to_lead.evaluate(facts(forms=(form(1, MON),)), MON + h(73)) is None


def test_suppressed_lead_is_no_finding():
    picture = facts(forms=(form(1, MON),), suppressed={1: "do not contact"})
    assert speed_to_lead.evaluate(picture, MON + h(1)) is None


def test_usage_ageing_wakes_a_lte_goal_at_once_but_a_gte_goal_only_every_few_hours():
    """Active products age a usage event out of the 7-day window every hour or so: re-analysing each
    time would make the sweep's cost follow product usage, not decisions."""
    from recommendations.picture import USAGE_REFRESH, next_check_of

    oldest = MON - d(7) + h(1)  # ages out in one hour
    seats = GoalFact(id=1, name="Seats", metric="seat_utilization", comparator="gte", threshold=0.8,
                     is_met=True, crossings=1)  # fmt: skip
    quiet = replace(seats, comparator="lte", threshold=0.2, is_met=False, crossings=0)
    none = [(p, {}) for p in all_playbooks() if p.code == "goal_crossed"]
    assert next_check_of(facts(goals=(seats,), oldest_usage_7d=oldest), MON, none) == MON + USAGE_REFRESH
    assert next_check_of(facts(goals=(seats, quiet), oldest_usage_7d=oldest), MON, none) == MON + h(1)
    assert next_check_of(facts(goals=(), oldest_usage_7d=oldest), MON, none) is None
