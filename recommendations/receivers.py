"""Receivers of the stored-signals announcement (connected in ``RecommendationsConfig.ready()``): the
one place where the flow turns upward (DESIGN.md §2). Stored signals queue the analysis of their
accounts, and replies or bounces to what salesai sent on its own become trust outcomes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from kombu.exceptions import OperationalError as KombuOperationalError

from recommendations.services import outcomes
from recommendations.services.analysis import queued_key
from recommendations.services.drafts import signature_of
from recommendations.tasks import analyze_account_task
from signals import hotcache

logger = logging.getLogger(__name__)

QUEUED_TTL_SECONDS = 10


def queue_analysis(sender, *, signal_ids: list[int], account_ids: list[int], **kwargs) -> None:
    """Queue ``analyze_account_task`` once per account, coalescing bursts.

    An add-if-absent claims "an analysis is queued" per account; the task releases the claim when it
    starts, so signals arriving during an analysis queue exactly one more. If the cache is down we
    queue anyway (coalescing is an optimisation; the analysis itself skips when nothing is new). If the
    broker is down the signals stay unanalysed and the outbox sweep re-queues them. The claim runs for
    every stored signal, so it is ``signals.hotcache.add`` (one ``SET NX EX`` on a kept Redis client),
    not ``cache.add``."""
    for account_id in account_ids:
        try:
            claimed = hotcache.add(queued_key(account_id), 1, timeout=QUEUED_TTL_SECONDS)
        except Exception:
            logger.warning("analysis_coalescing_unavailable", extra={"account_id": account_id})
            claimed = True
        if not claimed:
            continue
        if _broker_known_down():
            # The cache just failed and the broker is the same Redis: publishing would wait out kombu's
            # retries on every request. The signals are stored; the outbox re-queues them.
            logger.info("analysis_enqueue_left_to_outbox", extra={"account_ids": account_ids[:20]})
            return
        try:
            analyze_account_task.delay_on_commit(account_id)
        except (KombuOperationalError, ConnectionError, OSError):
            # the broker is unreachable: the signals are stored and the outbox task will re-queue them
            logger.warning("analysis_enqueue_failed", extra={"account_id": account_id})
            try:
                cache.delete(queued_key(account_id))
            except Exception:
                logger.warning("analysis_coalescing_unavailable", extra={"account_id": account_id})


def _broker_known_down() -> bool:
    """Whether the Redis that is also our broker failed a moment ago (remembered for a few seconds)."""
    return (
        not hotcache.cache_available() and bool(settings.REDIS_URL) and settings.CELERY_BROKER_URL == settings.REDIS_URL
    )


def label_autonomous_outcomes(sender, signal_ids: list[int], account_ids: list[int], **kwargs) -> None:
    """Replies and bounces to autonomous e-mails → trust outcomes. Never raises into ingestion: the
    signals are stored whatever happens here."""
    try:
        outcomes.record_autonomous_outcomes(signal_ids=signal_ids, kinds=kwargs.get("kinds"))
    except Exception:
        logger.exception("could not label outcomes of a stored batch", extra={"signal_ids": signal_ids[:20]})


SIGNATURE_PROMPT = (
    "Welcome! Drafts salesai writes for you end with your signature: add yours under Preferences "
    "(until then they are signed with your name)."
)


def ask_for_signature(sender, *, request, user, **kwargs) -> None:
    """At login, a person without a signature is asked for one (a message on the first page they see)."""
    if request is not None and hasattr(request, "_messages") and not signature_of(user):
        messages.info(request, SIGNATURE_PROMPT)
