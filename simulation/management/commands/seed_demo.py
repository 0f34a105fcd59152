"""``seed_demo``: a believable demo world and the demo logins."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from simulation.demo import DEMO_LOGINS, build_demo_accounts, ensure_demo_users, seed_review_history
from simulation.service import run_history


def _logins() -> str:
    return ", ".join(f"{login.username} / {login.password} ({login.role})" for login in DEMO_LOGINS)


class Command(BaseCommand):
    help = "Create demo accounts, contacts, deals, contracts and signals, and the demo rep and manager logins."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if accounts exist already.")
        parser.add_argument("--print-logins", action="store_true", help="Only print the demo logins.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off. The demo logins have a published password and the manager is staff: "
            "never on a database real people use.",
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--history-days",
            type=int,
            default=0,
            help="Also give the demo accounts this many days of simulated signal history, sent through the "
            "webhooks (e.g. 21). Analysis is queued for the worker.",
        )

    def handle(
        self,
        *args,
        if_empty: bool,
        print_logins: bool,
        seed: int,
        history_days: int = 0,
        force: bool = False,
        **options,
    ):
        if print_logins:
            self.stdout.write(_logins())
            return
        if not settings.DEBUG and not force:
            # --if-empty too: it (re)creates the demo logins, a staff manager among them, whose password
            # is in this very file. On a production database that is a door anyone can open.
            raise CommandError(
                "seed_demo creates logins with a published password (a staff manager among them): it runs "
                "only with DEBUG=true (make run sets it), or with --force on a database no real person uses."
            )
        if if_empty and Account.objects.exists():
            ensure_demo_users()
            self.stdout.write("Demo data present already; logins: " + _logins())
            return
        accounts = build_demo_accounts(seed=seed)
        self.stdout.write(self.style.SUCCESS(f"Demo world ready: {len(accounts)} accounts."))
        if history_days > 0:
            # the simulator drives the public webhooks like any client
            history = run_history(accounts=accounts, days=history_days, seed=seed)
            self.stdout.write(f"History: {history_days} days sent through the webhooks ({history.requests} requests).")
            # and the reviews of those weeks, so autonomy shows as earned, being learned and lost
            states = seed_review_history(days=history_days)
            self.stdout.write("Reviews: " + "; ".join(f"{domain} {state}" for domain, state in states.items()) + ".")
        self.stdout.write("Demo logins: " + _logins())
