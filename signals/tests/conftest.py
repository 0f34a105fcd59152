"""Fixtures of the ingestion tests."""

from __future__ import annotations

import pytest

from signals.dispatch import signals_stored


@pytest.fixture
def announced():
    """Every ``signals_stored`` announcement during the test: a list of (signal_ids, account_ids)."""
    calls: list[tuple[list[int], list[int]]] = []

    def receiver(sender, signal_ids, account_ids, **kwargs):
        calls.append((list(signal_ids), list(account_ids)))

    signals_stored.connect(receiver, dispatch_uid="signals-tests-announced")
    yield calls
    signals_stored.disconnect(dispatch_uid="signals-tests-announced")
