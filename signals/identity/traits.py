"""What a source says about people and companies (Segment identify and group calls, a signed
signal's contact e-mail), and tying earlier anonymous signals to the people they turn out to be.

Provenance (DESIGN.md §7): the CRM sync and the admin own account and contact fields. What a source
says fills only empty fields and is kept in ``traits``, unless the source is marked
``trusted_traits`` (a server-side key) and the call did not come from a browser or app. No source
moves a person into an account of another domain.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from accounts.models import Account, Contact
from salesai.text import single_line
from signals.dispatch import announce_stored
from signals.identity.domains import is_personal_domain, normalise_email, registrable_domain
from signals.identity.resolver import Resolver
from signals.models import AnonymousIdentity, GroupIdentity, Signal

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
        account_id = resolver.group_account_id(group_id)
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
        resolver.forget_user(user_id)
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
