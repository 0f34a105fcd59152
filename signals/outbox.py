"""The outbox: signals stored but not analysed are announced again, so a broker outage or a lost task
loses nothing (store first, DESIGN.md §1)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction

from salesai import clock
from signals.dispatch import announce_stored
from signals.models import Signal


def requeue_unanalysed_signals(*, limit: int = 1000) -> int:
    """Announce again signals stored longer than the grace period ago and still not analysed; returns
    how many. Rows are locked with ``SKIP LOCKED`` where the database has it, so two sweeps never
    announce the same batch."""
    grace = timedelta(seconds=settings.SALESAI["OUTBOX_GRACE_SECONDS"])
    cutoff = clock.now() - grace
    using = Signal.objects.db
    with transaction.atomic(using=using):
        # Signals without an account have nothing to analyse until identity back-fills them, which
        # announces them again; leaving them out keeps this sweep from re-announcing them forever.
        rows = Signal.objects.filter(analyzed_at__isnull=True, received_at__lt=cutoff, account__isnull=False).order_by(
            "received_at"
        )
        if connections[using].features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        found = list(rows.values_list("pk", "account_id")[:limit])
        if found:
            announce_stored(signal_ids=[pk for pk, _ in found], account_ids=[a for _, a in found])
    return len(found)
