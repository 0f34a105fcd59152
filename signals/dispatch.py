"""How ingestion announces stored signals without knowing who listens (DESIGN.md §2).

``signals_stored`` is sent *after commit* with the ids of stored signals and of the accounts they
belong to. ``recommendations`` connects its analysis task to it in ``AppConfig.ready()``."""

from __future__ import annotations

from collections.abc import Iterable

import django.dispatch
from django.db import transaction

from signals.models import Source

# sender: the Source model class; kwargs: signal_ids (list[int]), account_ids (list[int]),
# kinds (sorted list of the signals' kinds, or None when the announcer does not know them)
signals_stored = django.dispatch.Signal()


def announce_stored(
    *, signal_ids: Iterable[int], account_ids: Iterable[int | None], kinds: Iterable[str] | None = None
) -> None:
    """Announce stored signals once the surrounding transaction commits (immediately if none).

    ``kinds`` lets a listener that cares about a few kinds (replies, bounces) skip a query."""
    signal_ids = sorted(set(signal_ids))
    account_ids = sorted({a for a in account_ids if a is not None})
    kinds = sorted(set(kinds)) if kinds is not None else None
    if not signal_ids:
        return

    def send() -> None:
        signals_stored.send(sender=Source, signal_ids=signal_ids, account_ids=account_ids, kinds=kinds)

    transaction.on_commit(send, robust=True)
