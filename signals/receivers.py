"""Receivers of the signals app, connected in ``SignalsConfig.ready()``: per-process memories that a
change in this process makes stale at once, and django-anymail's inbound messages."""

from __future__ import annotations

from anymail.signals import inbound
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Account
from signals.identity.domains import forget_account_ids, forget_domain_rules
from signals.inbound.anymail import handle_anymail_inbound
from signals.models import DomainRule, Source
from signals.sources import forget_source

inbound.connect(handle_anymail_inbound, dispatch_uid="signals.anymail_inbound")


@receiver([post_save, post_delete], sender=DomainRule, dispatch_uid="signals.forget_domain_rules")
def _domain_rule_changed(**kwargs) -> None:
    forget_domain_rules()


@receiver(post_save, sender=Account, dispatch_uid="signals.forget_saved_account")
def _account_saved(instance: Account, created: bool, update_fields=None, **kwargs) -> None:
    if created or (update_fields is not None and "domain" not in update_fields):
        return
    forget_account_ids(instance.pk)


@receiver(post_delete, sender=Account, dispatch_uid="signals.forget_deleted_account")
def _account_deleted(instance: Account, **kwargs) -> None:
    forget_account_ids(instance.pk)


@receiver([post_save, post_delete], sender=Source, dispatch_uid="signals.forget_source")
def _source_changed(instance: Source, **kwargs) -> None:
    """A rotated, deactivated or deleted source's key stops working in this process at once."""
    forget_source(instance.pk)
