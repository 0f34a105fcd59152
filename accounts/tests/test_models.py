import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError

from accounts.models import Account, Contact
from accounts.selectors import accounts_for
from accounts.services import account_get_or_create
from accounts.tests.factories import AccountFactory, ContactFactory, GoalFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_groups_rep_and_manager_exist_after_migrations():
    assert set(Group.objects.values_list("name", flat=True)) >= {"rep", "manager"}


def test_domain_and_email_are_stored_lower_case_and_unique():
    account = AccountFactory(domain="ACME.com ")
    assert account.domain == "acme.com"
    contact = ContactFactory(account=account, email="Dana.Lee@ACME.com")
    assert contact.email == "dana.lee@acme.com"
    with pytest.raises(IntegrityError):
        Contact.objects.create(account=account, email="dana.lee@acme.com")


def test_account_get_or_create_makes_one_account_with_its_picture():
    first, created = account_get_or_create(domain="Globex.example")
    again, created_again = account_get_or_create(domain="globex.example")
    assert created and not created_again
    assert first.pk == again.pk
    assert first.picture.version == 0
    assert Account.objects.count() == 1


def test_a_rep_sees_only_their_accounts_and_a_manager_sees_all():
    rep, other = UserFactory(), UserFactory()
    mine = AccountFactory(owner=rep)
    AccountFactory(owner=other)
    assert list(accounts_for(user=rep)) == [mine]
    assert accounts_for(user=ManagerFactory()).count() == 2


def test_goal_holds_for_its_comparator():
    goal = GoalFactory(threshold=0.8)
    assert goal.holds_for(0.8) and goal.holds_for(0.95)
    assert not goal.holds_for(0.79) and not goal.holds_for(None)


def test_arr_cannot_be_negative():
    with pytest.raises(IntegrityError):
        AccountFactory(arr=-1)
