"""``python manage.py retrain_learning``: close outcome windows and retrain every learnt model now."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from recommendations.learning import training
from salesai import clock


class Command(BaseCommand):
    help = "Retrain calibrated confidence, account fit and contact choice from the outcome records now."

    def handle(self, *args, **options):
        result = training.retrain(now=clock.now())
        self.stdout.write(json.dumps(result, default=str, sort_keys=True))
