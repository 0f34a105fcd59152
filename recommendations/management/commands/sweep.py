"""``python manage.py sweep [--as-of ISO-8601]``: run the time-based analysis now, synchronously."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from recommendations.services import analysis
from salesai import clock


def parse_instant(value: str) -> dt.datetime:
    try:
        instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--as-of must be an ISO-8601 instant, e.g. 2026-11-20T09:00:00Z (got {value!r})")
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Analyse every account whose next check is due, expire and wake recommendations (synchronously)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", help="Run as if it were this instant (ISO-8601; UTC if naive).")
        parser.add_argument("--batch-size", type=int, default=analysis.SWEEP_BATCH_SIZE)

    def handle(self, *args, as_of: str | None = None, batch_size: int = analysis.SWEEP_BATCH_SIZE, **options):
        instant = parse_instant(as_of) if as_of else clock.now()
        with clock.as_of(instant):
            result = analysis.sweep_due_accounts(batch_size=batch_size, time_budget=None)
        self.stdout.write(
            f"Swept as of {instant.isoformat()}: {result.analysed} accounts analysed in {result.batches} batches, "
            f"{result.expired} recommendations expired, {result.woken} woken ({result.seconds:.2f}s)."
        )
