"""The driver sends a world through the real webhooks at simulated time and sees what salesai surfaced."""

from __future__ import annotations

import pytest

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from signals.models import Signal
from simulation import driver, service, world


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
    driver.clean()
    assert not Account.objects.filter(external_id__startswith="sim:").exists()


@pytest.mark.django_db
def test_refuses_a_database_with_other_accounts():
    AccountFactory()
    with pytest.raises(driver.RefusedDatabase):
        driver.clean()


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
