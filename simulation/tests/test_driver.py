"""The driver sends a world through the real webhooks at simulated time and sees what salesai surfaced."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from signals.models import Signal
from simulation import driver, run, scoring, service, stage, world
from simulation.market import Moment


@pytest.mark.django_db(transaction=True)
def test_a_small_world_goes_through_the_webhooks_and_is_scored(tmp_path):
    result = service.simulate(accounts=12, days=4, seed=5, report_dir=tmp_path, progress=False, keep=True)
    w = world.generate(seed=5, accounts=12, days=4)
    stored = Signal.objects.filter(account__external_id__startswith="sim:")
    # every first delivery became exactly one signal (duplicates deduped), none was refused
    assert result.report["run"]["refused"] == []
    firsts = {e.id for e in w.events if not e.duplicate}
    assert stored.count() == len(firsts)
    assert stored.filter(kind="page_view").count() == sum(
        1 for e in w.events if e.kind == "page_view" and not e.duplicate
    )
    assert set(result.scores) == {"salesai", "reactive", "naive"}
    assert (tmp_path / "report.md").read_text().startswith("# salesai simulation")
    assert result.scores["salesai"].moments == len(w.moments)
    stage.clean()
    assert not Account.objects.filter(external_id__startswith="sim:").exists()


@pytest.mark.django_db
def test_refuses_a_database_with_other_accounts():
    AccountFactory()
    with pytest.raises(stage.RefusedDatabase):
        stage.clean()


@pytest.mark.django_db(transaction=True)
def test_history_gives_existing_accounts_weeks_of_signals_through_the_webhooks():
    from accounts.tests.factories import ContactFactory, ContractFactory

    accounts = [AccountFactory(domain=f"history{n}.example") for n in range(4)]
    for account in accounts:
        for n in range(3):
            ContactFactory(account=account, name=f"Person {n}", email=f"person{n}@{account.domain}")
        ContractFactory(account=account)
    observed = service.run_history(accounts=accounts, days=10, seed=3)
    assert observed.refused == []
    stored = Signal.objects.filter(account__in=accounts)
    from accounts.models import Contact

    assert stored.filter(kind="identify").count() == Contact.objects.filter(account__in=accounts).count()
    spread = {s.occurred_at.date() for s in stored.exclude(kind="identify")}
    assert len(spread) >= 5  # days of history, not one burst
    assert all(s.received_at >= s.occurred_at for s in stored)
    # nothing of the demo was renamed or marked as the simulation's
    assert not Account.objects.filter(external_id__startswith="sim:").exists()


@pytest.mark.django_db
def test_each_driver_part_delivers_its_own_accounts_and_together_they_deliver_everything():
    w = world.generate(seed=5, accounts=9, days=3)
    credentials = stage.set_up(w)
    parts = [driver.Driver(w, credentials, part=part, parts=3) for part in range(3)]
    delivered = [[e for _at, _channel, events in d.deliveries() for e in events] for d in parts]
    accounts = [{e.account for e in events} for events in delivered]
    assert all(accounts) and not (accounts[0] & accounts[1] or accounts[0] & accounts[2] or accounts[1] & accounts[2])
    assert sorted(e.id for events in delivered for e in events) == sorted(e.id for e in w.events)
    for events in delivered:  # each account's events keep their order of delivery
        assert [e.deliver_at for e in events] == sorted(e.deliver_at for e in events)


@pytest.mark.django_db
def test_emailing_again_ends_the_follow_ups_of_earlier_emails_not_of_the_reps_later_touches():
    """salesai following up at ``at`` is the follow-up of the e-mails sent before it; the world's rep
    still sends the later touches of their sequence, and those still need theirs (on seed 1, reps
    rejected change_contact after a third unanswered touch as not relevant: its sequence_exhausted
    moment had been dropped by salesai's follow-up of the first)."""
    w = world.generate(seed=5, accounts=3, days=3)
    d = driver.Driver(w, stage.set_up(w))
    t = w.start
    early = Moment(id="m-early", account="x.example", rep="r", kind="follow_up_due", opens_at=t + dt.timedelta(days=3),
                   at=t + dt.timedelta(days=3), closes_at=t + dt.timedelta(days=8), deciding=("e1",))  # fmt: skip
    late = replace(early, id="m-late", kind="sequence_exhausted", opens_at=t + dt.timedelta(days=10),
                   at=t + dt.timedelta(days=10), closes_at=t + dt.timedelta(days=17), deciding=("e2",))  # fmt: skip
    d._sent_at.update({"e1": t, "e2": t + dt.timedelta(days=7)})
    d._moments["x.example"] = [early, late]
    d._follow_ups["ana@x.example"] = {"m-early", "m-late"}
    d.follow_ups_end("x.example", "ana@x.example", t + dt.timedelta(days=1))
    assert d.out.ended == {"m-early": None}  # never needed: salesai's e-mail was the follow-up
    assert d._moments["x.example"] == [late]
    d.follow_ups_end("x.example", "ana@x.example", t + dt.timedelta(days=12))  # e-mailed after the last touch
    assert d.out.ended["m-late"].closes_at == t + dt.timedelta(days=12)


@pytest.mark.django_db
def test_a_world_follow_up_ends_when_the_person_answers_before_it_closes():
    """As for salesai's own e-mails: a meeting booked (or a reply to another e-mail) while a follow-up of
    the rep's e-mail is open ends the need then; one before it opens means it was never needed."""
    w = world.generate(seed=5, accounts=3, days=3)
    d = driver.Driver(w, stage.set_up(w))
    t = w.start
    open_one = Moment(id="m-1", account="x.example", rep="r", kind="follow_up_due", opens_at=t + dt.timedelta(days=3),
                      at=t + dt.timedelta(days=3), closes_at=t + dt.timedelta(days=8), deciding=("e1",))  # fmt: skip
    later = replace(open_one, id="m-2", opens_at=t + dt.timedelta(days=13), at=t + dt.timedelta(days=13),
                    closes_at=t + dt.timedelta(days=18), deciding=("e2",))  # fmt: skip
    untouched = replace(open_one, id="m-3", deciding=("e3",))
    d._sent_at.update({"e1": t, "e2": t + dt.timedelta(days=10), "e3": t})
    d._answered["ana@x.example"] = [t + dt.timedelta(days=5), t + dt.timedelta(days=11)]
    d._moments["x.example"], d.out.ended = [open_one, later, untouched], {}
    d._end_world_follow_ups_at_answers({"e1": "ana@x.example", "e2": "ana@x.example", "e3": "bo@x.example"})
    assert d.out.ended == {"m-1": replace(open_one, closes_at=t + dt.timedelta(days=5)), "m-2": None}
    assert d._moments["x.example"] == [d.out.ended["m-1"], untouched]


@pytest.mark.django_db
def test_the_reps_later_touch_that_is_the_third_unanswered_email_ends_the_sequence():
    """One market, one rule: the rep's first e-mail, salesai's follow-up, then the rep's own second touch
    is the person's third unanswered e-mail; as for salesai's own e-mails, another contact is due then,
    not a follow-up. An answer in between starts the count again."""
    w = world.generate(seed=5, accounts=3, days=3)
    d = driver.Driver(w, stage.set_up(w))
    t = w.start
    second = Moment(id="m-2", account="x.example", rep="r", kind="follow_up_due", opens_at=t + dt.timedelta(days=7),
                    at=t + dt.timedelta(days=7), closes_at=t + dt.timedelta(days=12), deciding=("e2",))  # fmt: skip
    d._sent_at.update({"e1": t, "e2": t + dt.timedelta(days=4)})
    d._sent_to["ana@x.example"] = [t, t + dt.timedelta(days=4)]
    d._moments["x.example"] = [second]
    d._follow_ups["ana@x.example"] = {"m-2"}
    d.sequences_exhausted("x.example", "ana@x.example")
    assert d._moments["x.example"] == [second]  # two e-mails: still a follow-up
    d._sent_to["ana@x.example"].append(t + dt.timedelta(days=2))  # salesai followed up in between
    d.sequences_exhausted("x.example", "ana@x.example")
    (ended,) = d._moments["x.example"]
    assert (ended.kind, ended.acceptable) == ("sequence_exhausted", ("change_contact",))
    assert ended.closes_at == ended.opens_at + dt.timedelta(days=7) and d.out.ended["m-2"] == ended
    d._moments["x.example"], d.out.ended = [second], {}
    d._answered["ana@x.example"] = [t + dt.timedelta(days=3)]  # Ana answered before the rep's second touch
    d.sequences_exhausted("x.example", "ana@x.example")
    assert d._moments["x.example"] == [second] and d.out.ended == {}


def _surfaced(observed: driver.Observed) -> set[tuple[str, str]]:
    return {(s.account, s.action_type) for s in observed.sightings if s.status == "pending"}


@pytest.mark.django_db(transaction=True)
def test_two_driver_processes_in_step_see_what_one_sees(require_postgres):
    w = world.generate(seed=5, accounts=16, days=5)
    one = run.drive(w, progress=False, processes=1)
    two = run.drive(w, progress=False, processes=2)
    assert two.refused == [] and one.refused == []
    assert two.sweeps == one.sweeps == 5 * 24
    assert len(two.snapshots) == len(one.snapshots) > 0
    assert _surfaced(two) == _surfaced(one) != set()
    scores = [
        scoring.score(system=name, sightings=o.sightings, snapshots=o.snapshots, moments=w.moments, reps=len(w.reps),
                      days=w.days, k=10)
        for name, o in (("one", one), ("two", two))
    ]  # fmt: skip
    assert scores[0].recall == scores[1].recall
    assert scores[0].precision_at_k == scores[1].precision_at_k
    stage.clean()


@pytest.mark.django_db(transaction=True)
def test_a_failing_driver_process_stops_the_others_and_its_error_is_raised(require_postgres, monkeypatch):
    w = world.generate(seed=5, accounts=6, days=2)
    look = driver.Driver.look

    def failing_look(self, at):
        if self.part == 1 and at > w.start + dt.timedelta(hours=5):
            raise RuntimeError("part 1 broke")
        return look(self, at)

    monkeypatch.setattr(driver.Driver, "look", failing_look)  # inherited by the forked processes
    with pytest.raises(run.PartFailed, match="part 1 broke"):
        run.drive(w, progress=False, processes=2)
    stage.clean()


@pytest.mark.django_db(transaction=True)
def test_reps_review_every_morning_and_the_market_answers_what_salesai_sends(require_postgres):
    from trust.models import Outcome
    from trust.selectors import REVIEW_KINDS

    w = world.generate(seed=5, accounts=24, days=8)
    observed = run.drive(w, progress=False, processes=2, reviews=True)
    assert observed.refused == []
    approved, rejected = observed.reviews["approved"], observed.reviews["rejected"]
    assert approved > 0 and approved >= rejected
    # each review went through the API as the account's rep and became a trust outcome
    assert Outcome.objects.filter(kind__in=REVIEW_KINDS).count() == approved + rejected
    # salesai's e-mails reached the market: answers threaded to them, or follow-ups due for silence
    ours = Signal.objects.filter(kind="email_sent", external_id__startswith="<rec.")
    assert ours.exists()
    answers = Signal.objects.filter(kind="email_reply", in_reply_to__in=ours)
    assert answers.exists()
    assert {m.kind for m in observed.moments} & {"follow_up_due", "reply_needs_answer", "sequence_exhausted"}
    assert all(m.account in {a.domain for a in w.accounts} for m in observed.moments)
    stage.clean()  # the trust model's record of the run goes with it: the next run starts fresh
    assert not Outcome.objects.exists()
    from trust.models import TrustDecision

    assert not TrustDecision.objects.exists()


def _fingerprint(observed: driver.Observed) -> tuple[list, list]:
    """What a run surfaced and decided, without the ids a run draws (row ids, salesai's Message-IDs)."""
    from recommendations.models import Recommendation

    seen = [(s.account, s.rep, s.action_type, s.status, s.at, s.facts, s.autonomous, s.priority)
            for s in observed.sightings]  # fmt: skip
    rows = list(
        Recommendation.objects.order_by("created_at", "account__domain", "action_type", "updated_at").values_list(
            "created_at", "account__domain", "action_type", "status", "confidence", "priority", "contact__email",
            "version", "updated_at",
        )
    )  # fmt: skip
    return seen, rows


def _without_ids(learning: dict) -> dict:
    """The learning figures without the cards' row ids (a second run on one database numbers on)."""
    items = [[{k: v for k, v in item.items() if k != "rec_id"} for item in week]
             for week in learning["precision_miss_items_by_week"]]  # fmt: skip
    return {**learning, "precision_miss_items_by_week": items}


@pytest.mark.django_db(transaction=True)
def test_a_reviewed_run_in_one_process_repeats_for_its_seed(require_postgres, tmp_path):
    """A scored run is a measurement only if it can be repeated: the same seed, the same reviews, the
    same confidence shown and the same rows, to the last digit (ties in the inbox, the review sample,
    the retrains: nothing may depend on timing or on the order rows happen to lie in)."""
    runs = []
    for name in ("first", "second"):
        result = service.simulate(accounts=24, days=8, seed=5, report_dir=tmp_path / name, progress=False,
                                  keep=True, processes=1, reviews=True)  # fmt: skip
        runs.append((result, *_fingerprint(result.observed)))
    (first, first_seen, first_rows), (second, second_seen, second_rows) = runs
    assert first.observed.reviews == second.observed.reviews and first.observed.reviews["approved"] > 0
    assert second_rows == first_rows and len(first_rows) > 20
    assert second_seen == first_seen
    assert _without_ids(second.report["learning"]) == _without_ids(first.report["learning"])
    assert [(s.rep, s.at, [item[1:] for item in s.items]) for s in second.observed.snapshots] == [
        (s.rep, s.at, [item[1:] for item in s.items]) for s in first.observed.snapshots
    ]
    stage.clean()


def test_a_reviewed_run_drives_with_one_process_unless_told():
    """Two processes do not repeat a reviewed run (see the test above); the default must."""
    assert run.default_processes(reviews=True) == 1
