"""``manage.py import_crm FILE``: upsert accounts from a CSV or JSON export (same service as the API).

JSON: a list of accounts in the ``POST /api/v1/crm/accounts`` shape (or ``{"accounts": [...]}``).
CSV: one row per account (``domain,name,owner,segment,arr,strategic,external_id``), and optionally
contact, opportunity and contract columns on the same row: ``contact_email, contact_name,
contact_title, opportunity_external_id, opportunity_name, opportunity_amount, opportunity_stage,
opportunity_close_date, opportunity_status, opportunity_stage_changed_at, opportunity_contacts (e-mails
separated by ``;``), contract_external_id, contract_value, contract_renewal_date,
contract_start_date``; several rows with the same domain add up.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from signals.crm.serializers import CrmAccountSerializer, flatten_errors
from signals.crm.service import crm_sync_account

_NESTED = {
    "contact": ("contacts", "email", ("email", "name", "title")),
    "opportunity": (
        "opportunities",
        "external_id",
        ("external_id", "name", "amount", "stage", "status", "close_date", "stage_changed_at", "contacts"),
    ),
    "contract": ("contracts", "external_id", ("external_id", "value", "renewal_date", "start_date", "status")),
}
_ACCOUNT_COLUMNS = ("domain", "name", "owner", "segment", "arr", "strategic", "external_id")


def records_from_csv(path: Path) -> list[dict]:
    """Group CSV rows by domain into API-shaped account records (empty cells are left out)."""
    by_domain: dict[str, dict] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "domain" not in reader.fieldnames:
            raise CommandError("The CSV needs a header row with a 'domain' column.")
        for row in reader:
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            domain = row.get("domain", "").lower()
            record = by_domain.setdefault(domain, {"domain": domain})
            record.update({k: row[k] for k in _ACCOUNT_COLUMNS if row.get(k)})
            for prefix, (key, natural_key, columns) in _NESTED.items():
                nested = {c: _cell(c, row[f"{prefix}_{c}"]) for c in columns if row.get(f"{prefix}_{c}")}
                if nested.get(natural_key):
                    record.setdefault(key, []).append(nested)
    return list(by_domain.values())


def _cell(column: str, value: str) -> str | list[str]:
    """A CSV cell; a deal's ``contacts`` are e-mails separated by ``;`` (or spaces)."""
    if column == "contacts":
        return [part for part in value.replace(";", " ").split() if part]
    return value


def records_from_json(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}")
    if isinstance(data, dict):
        data = data.get("accounts", [data])
    if not isinstance(data, list):
        raise CommandError('The JSON must be a list of accounts or {"accounts": [...]}.')
    return data


class Command(BaseCommand):
    help = "Upsert CRM accounts, contacts, opportunities and contracts from a CSV or JSON file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.exists():
            raise CommandError(f"No file {file}.")
        is_json = file.suffix.lower() == ".json"
        records = records_from_json(file) if is_json else records_from_csv(file)
        errors: dict[str, str] = {}
        valid: list[dict] = []
        for index, record in enumerate(records):
            serializer = CrmAccountSerializer(data=record)
            if serializer.is_valid():
                valid.append(serializer.validated_data)
            else:
                label = record.get("domain") if isinstance(record, dict) else None
                for field, message in flatten_errors(serializer.errors).items():
                    errors[f"{index} ({label or '?'}).{field}"] = message
        created = updated = unchanged = 0
        for record in tqdm(valid, desc="accounts", unit="account", file=self.stderr, disable=None):
            outcome = crm_sync_account(record=record)
            if outcome.created:
                created += 1
            elif outcome.changed:
                updated += 1
            else:
                unchanged += 1
        for where, message in errors.items():
            self.stderr.write(f"skipped {where}: {message}")
        self.stdout.write(
            f"{created} created, {updated} updated, {unchanged} unchanged, {len(records) - len(valid)} skipped."
        )
        if errors and not valid:
            raise CommandError("Nothing imported: every record was invalid.")
