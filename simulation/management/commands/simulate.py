"""``python manage.py simulate --accounts N --days D --seed S``: run the evaluation world and report."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from simulation import service
from simulation.stage import RefusedDatabase


class Command(BaseCommand):
    help = (
        "Generate a synthetic market with hidden buying states, drive salesai through its webhooks and the "
        "sweep at simulated time, and write a quality report (markdown + JSON) beside two baselines."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=200)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--k", type=int, default=10, help="Inbox depth for precision at k.")
        parser.add_argument("--report-dir", default=str(Path(settings.BASE_DIR) / "var" / "simulation"))
        parser.add_argument("--force", action="store_true", help="Run even if the database holds other accounts.")
        parser.add_argument("--keep", action="store_true", help="Keep the simulated rows after the run.")
        parser.add_argument("--reviews", action="store_true",
                            help="Simulated reps review their inbox every morning; the trust model earns autonomy "
                            "and the market answers what salesai sends (about three times the work).")  # fmt: skip
        parser.add_argument("--no-learning", action="store_true",
                            help="The same world with learning off (hand-set confidence, no retraining); written "
                            "to report-no-learning.* beside the learning run's report.")  # fmt: skip
        parser.add_argument("--processes", type=int, default=None,
                            help="Driver processes in step (default: 2 on PostgreSQL, 1 on SQLite or with --reviews, "
                                 "which repeats for its seed only in one process).")  # fmt: skip

    def handle(
        self, *args, accounts: int, days: int, seed: int, k: int, report_dir: str, force: bool, keep: bool,
        processes: int | None, reviews: bool, no_learning: bool = False, **options
    ):  # fmt: skip
        if accounts < 1 or days < 1:
            raise CommandError("--accounts and --days must be at least 1.")
        if processes is not None and processes < 1:
            raise CommandError("--processes must be at least 1.")
        if processes and processes > 1 and connection.vendor != "postgresql":
            raise CommandError("--processes above 1 needs PostgreSQL (SQLite takes one writer at a time).")
        try:
            result = service.simulate(accounts=accounts, days=days, seed=seed, k=k, force=force, keep=keep,
                                      report_dir=Path(report_dir), processes=processes, reviews=reviews,
                                      learning=not no_learning,
                                      log=self.stderr.write)  # fmt: skip
        except RefusedDatabase as exc:
            raise CommandError(str(exc))
        self.stdout.write(result.markdown)
        self.stdout.write(self.style.SUCCESS(f"Report written to {result.json_path} and {result.markdown_path}."))
