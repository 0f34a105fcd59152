"""Identity resolution: who (contact) and which company (account) an event is about.

userId / anonymousId / e-mail → Contact → Account, remembered per request so a batch of 100 events
from a few visitors costs a few queries. A source creates at most its hourly budget of new accounts
(``Source.accounts_per_hour``): a public write key could otherwise invent thousands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings

from accounts.models import Account, Contact
from salesai import clock
from signals.identity.domains import (
    get_or_create_account,
    is_personal_domain,
    normalise_email,
    registrable_domain,
)
from signals.models import AccountCreation, AnonymousIdentity, GroupIdentity, Source

logger = logging.getLogger(__name__)


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
            return Resolution(found.contact_id, self.group_account_id(group_id))
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
        account, created = get_or_create_account(domain, name=name)
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

    def group_account_id(self, group_id: str) -> int | None:
        """The account this source's ``group_id`` was tied to, if any."""
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

    def forget_user(self, user_id: str) -> None:
        """Look ``user_id`` up again next time (its person just changed account)."""
        self._by_user.pop(user_id, None)

    def remember_group(self, group_id: str, account_id: int) -> None:
        self._by_group[group_id] = account_id
