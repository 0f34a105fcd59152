import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from accounts.models import Account, Contact, Contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True  # pytest-django runs with DEBUG off; make run sets it on


def login(username: str, password: str):
    """authenticate() as the login page calls it: with the request (login throttling needs it)."""
    return authenticate(RequestFactory().post("/login/"), username=username, password=password)


def test_seed_demo_builds_a_world_and_prints_working_logins(capsys, debug_on):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "demo-rep / salesai-demo" in out and "demo-manager" in out
    assert Account.objects.count() >= 30
    assert Contact.objects.count() >= 60
    assert Contract.objects.filter(renewal_date__isnull=False).count() == Account.objects.count()
    rep = login("demo-rep", "salesai-demo")
    assert rep is not None and rep.owned_accounts.exists()
    assert login("demo-manager", "salesai-demo").groups.filter(name="manager").exists()


def test_seed_demo_if_empty_leaves_existing_data_alone(capsys, debug_on):
    call_command("seed_demo")
    count = Account.objects.count()
    call_command("seed_demo", "--if-empty")
    assert Account.objects.count() == count
    assert "present already" in capsys.readouterr().out


@pytest.mark.parametrize("args", [[], ["--if-empty"]], ids=["seed", "if-empty"])
def test_seed_demo_refuses_with_debug_off_and_creates_no_login(args, settings):
    settings.DEBUG = False
    Account.objects.create(name="Real customer", domain="real.example")  # --if-empty: data present already
    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("seed_demo", *args)
    assert not get_user_model().objects.filter(username__startswith="demo-").exists()


def test_seed_demo_force_seeds_with_debug_off(settings):
    settings.DEBUG = False
    call_command("seed_demo", "--force")
    assert get_user_model().objects.filter(username="demo-manager").exists()
