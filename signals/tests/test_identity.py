"""Identity resolution: registrable domains offline, free-mail and disposable lists, overrides."""

from __future__ import annotations

import pytest

from accounts.models import Account
from signals.identity.domains import account_for_email, is_personal_domain, registrable_domain
from signals.identity.traits import guess_seniority
from signals.models import DomainRule


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("ada@mail.Acme.co.uk", "acme.co.uk"),
        ("https://www.initech.com/pricing?x=1", "initech.com"),
        ("shop.example.org:8443/path", "example.org"),
        ("acme.com.", "acme.com"),
        ("localhost", None),
        ("10.0.0.1", None),
        ("", None),
        ("not a domain", None),
    ],
)
def test_registrable_domain_uses_the_bundled_suffix_list(value, domain):
    assert registrable_domain(value) == domain


@pytest.mark.parametrize(
    ("title", "seniority"),
    [
        ("Chief Executive Officer", "c_level"),
        ("Co-Founder & CTO", "c_level"),
        ("VP Sales", "vp"),
        ("Head of Marketing", "vp"),
        ("Director, Engineering", "director"),
        ("Engineering Manager", "manager"),
        ("Software Engineer", "individual"),
        ("", "unknown"),
    ],
)
def test_seniority_guess_from_title(title, seniority):
    assert guess_seniority(title) == seniority


@pytest.mark.django_db
@pytest.mark.parametrize("domain", ["gmail.com", "yahoo.com", "mailinator.com", "10minutemail.com"])
def test_free_mail_and_disposable_domains_never_create_accounts(domain):
    assert is_personal_domain(domain)
    assert account_for_email(f"someone@{domain}") is None
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_business_domain_finds_or_creates_one_account():
    first = account_for_email("a@sub.globex.com")
    second = account_for_email("b@globex.com")
    assert first == second and first.domain == "globex.com" and first.name == "Globex"
    assert hasattr(first, "picture")


@pytest.mark.django_db
def test_admin_overrides_win_over_the_lists():
    DomainRule.objects.create(domain="GMX.net", treatment=DomainRule.Treatment.BUSINESS)
    DomainRule.objects.create(domain="oldcorp-alumni.com", treatment=DomainRule.Treatment.PERSONAL)
    assert not is_personal_domain("gmx.net")
    assert account_for_email("team@gmx.net").domain == "gmx.net"
    assert account_for_email("bob@oldcorp-alumni.com") is None
    DomainRule.objects.filter(domain="gmx.net").delete()
    assert is_personal_domain("gmx.net")  # the override cache is cleared on change
