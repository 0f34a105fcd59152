"""``manage.py create_source NAME --kind segment|generic|email [--json]``: prints the credentials once."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from signals.models import Source
from signals.sources import create_source

KINDS = (Source.Kind.SEGMENT, Source.Kind.GENERIC, Source.Kind.EMAIL, Source.Kind.CRM)


class Command(BaseCommand):
    help = "Create a signal source and print its write key and signing secret (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", choices=[str(k) for k in KINDS], default=Source.Kind.SEGMENT)
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of text.")

    def handle(self, *args, name: str, kind: str, json: bool = False, **options):
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("NAME must be 1 to 100 characters.")
        if Source.objects.filter(name=name).exists():
            raise CommandError(f"A source named {name!r} exists already.")
        try:
            source, write_key = create_source(name=name, kind=kind)
        except IntegrityError:
            raise CommandError(f"A source named {name!r} exists already.")
        credentials = {
            "name": source.name,
            "kind": source.kind,
            "write_key": write_key,
            "signing_secret": source.signing_secret,
        }
        if json:
            self.stdout.write(_dumps(credentials))
            return
        self.stdout.write(f"Source {source.name!r} ({source.get_kind_display()}) created.")
        self.stdout.write(f"write key:      {write_key}")
        self.stdout.write(f"signing secret: {source.signing_secret}")
        self.stdout.write("Store them now: the write key is not shown again.")


def _dumps(data: dict) -> str:
    return json.dumps(data)
