import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import Account, Contact, Contract

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_a_world_and_prints_working_logins(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "demo-rep / salesai-demo" in out and "demo-manager" in out
    assert Account.objects.count() >= 30
    assert Contact.objects.count() >= 60
    assert Contract.objects.filter(renewal_date__isnull=False).count() == Account.objects.count()
    rep = authenticate(username="demo-rep", password="salesai-demo")
    assert rep is not None and rep.owned_accounts.exists()
    assert authenticate(username="demo-manager", password="salesai-demo").groups.filter(name="manager").exists()


def test_seed_demo_if_empty_leaves_existing_data_alone(capsys):
    call_command("seed_demo")
    count = Account.objects.count()
    call_command("seed_demo", "--if-empty")
    assert Account.objects.count() == count
    assert "present already" in capsys.readouterr().out
