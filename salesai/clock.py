"""The one clock. Every "now" in salesai comes from here, so tests (time-machine) and
``sweep --as-of`` can move time for the whole system at once."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

_frozen_now: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("salesai_now", default=None)


def now() -> datetime:
    """The current instant (aware, UTC), or the instant set by :func:`as_of`."""
    frozen = _frozen_now.get()
    return frozen if frozen is not None else timezone.now()


@contextmanager
def as_of(instant: datetime) -> Iterator[datetime]:
    """Run a block as if it were ``instant`` (used by ``sweep --as-of`` and the simulator)."""
    if timezone.is_naive(instant):
        raise ValueError("as_of() needs an aware datetime")
    token = _frozen_now.set(instant)
    try:
        yield instant
    finally:
        _frozen_now.reset(token)
