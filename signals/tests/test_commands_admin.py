"""create_source, the admin of sources (write key shown once), and the OpenAPI schema."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from signals.models import DomainRule, QuarantinedPayload, Source
from signals.sources import hash_write_key, source_for_write_key
from signals.tests.factories import SignalFactory
from signals.tests.helpers import make_source

pytestmark = pytest.mark.django_db


def test_create_source_json_prints_credentials_once():
    out = io.StringIO()
    call_command("create_source", "website", "--kind", "segment", "--json", stdout=out)
    credentials = json.loads(out.getvalue())
    assert set(credentials) == {"name", "kind", "write_key", "signing_secret"}
    source = Source.objects.get(name="website")
    assert (source.kind, source.write_key_hash) == ("segment", hash_write_key(credentials["write_key"]))
    assert credentials["write_key"] not in json.dumps(list(Source.objects.values()), default=str)
    assert source_for_write_key(credentials["write_key"]) == source
    assert credentials["signing_secret"].startswith("whsec_")


def test_create_source_text_and_duplicates():
    out = io.StringIO()
    call_command("create_source", "forms", "--kind", "generic", stdout=out)
    assert "write key:" in out.getvalue() and "not shown again" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("create_source", "forms", "--kind", "generic")


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@salesai.test", "pw")
    client.force_login(admin)
    return client


def test_admin_add_source_shows_the_key_once_and_stores_only_its_hash(admin_client_logged_in):
    response = admin_client_logged_in.post(
        reverse("admin:signals_source_add"),
        {"name": "crm-webhooks", "kind": "generic", "event_map": "{}", "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    message = next(str(m) for m in response.context["messages"])
    write_key = message.split("Write key: ")[1].split(" ")[0]
    source = Source.objects.get(name="crm-webhooks")
    assert source_for_write_key(write_key) == source
    change_page = admin_client_logged_in.get(reverse("admin:signals_source_change", args=[source.pk]))
    assert write_key not in change_page.content.decode()
    assert source.write_key_prefix in change_page.content.decode()
    assert source.signing_secret not in change_page.content.decode()


def test_admin_refuses_unknown_kinds_in_event_map(admin_client_logged_in):
    source, _ = make_source("app")
    response = admin_client_logged_in.post(
        reverse("admin:signals_source_change", args=[source.pk]),
        {"name": "app", "kind": "segment", "event_map": '{"X": "teleport"}', "active": "on"},
    )
    assert response.status_code == 200
    assert "Unknown kinds" in response.content.decode()


def test_admin_marks_a_server_side_source_trusted_with_its_own_account_budget(admin_client_logged_in):
    source, _ = make_source("backend", kind="segment")
    form = {"name": "backend", "kind": "segment", "event_map": "{}", "active": "on", "trusted_traits": "on"}
    response = admin_client_logged_in.post(
        reverse("admin:signals_source_change", args=[source.pk]), {**form, "accounts_per_hour": "1000"}
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.trusted_traits, source.accounts_per_hour) == (True, 1000)
    page = admin_client_logged_in.get(reverse("admin:signals_source_change", args=[source.pk])).content.decode()
    assert "never for a key in a website snippet" in page


def test_admin_refuses_trust_for_sources_that_send_no_traits(admin_client_logged_in):
    source, _ = make_source("mail", kind="email")
    response = admin_client_logged_in.post(
        reverse("admin:signals_source_change", args=[source.pk]),
        {"name": "mail", "kind": "email", "event_map": "{}", "active": "on", "trusted_traits": "on"},
    )
    assert response.status_code == 200 and "sends traits to trust" in response.content.decode()
    source.refresh_from_db()
    assert source.trusted_traits is False


def test_admin_rotate_write_key(admin_client_logged_in):
    source, old_key = make_source("app")
    admin_client_logged_in.post(
        reverse("admin:signals_source_changelist"), {"action": "rotate_write_key", "_selected_action": [source.pk]}
    )
    assert source_for_write_key(old_key) is None
    source.refresh_from_db()
    assert source.write_key_prefix.startswith("sk_")


@pytest.mark.parametrize(
    "model",
    [
        "source",
        "signal",
        "quarantinedpayload",
        "domainrule",
        "anonymousidentity",
        "groupidentity",
        "webhookdelivery",
        "accountcreation",
    ],
)
def test_admin_changelists_render(admin_client_logged_in, model):
    SignalFactory()
    QuarantinedPayload.objects.create(endpoint="/v1/track", error_code="invalid_json", payload="{")
    DomainRule.objects.create(domain="gmx.net", treatment="personal")
    response = admin_client_logged_in.get(reverse(f"admin:signals_{model}_changelist"))
    assert response.status_code == 200


def test_openapi_schema_lists_ingestion_endpoints_with_their_shapes(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    for path in ["/v1/batch", "/v1/track", "/v1/page", "/v1/identify", "/v1/group", "/v1/screen", "/v1/alias"]:
        operation = paths[path]["post"]
        assert {"200", "400", "401", "403", "413", "429"} <= set(operation["responses"])
    signals_op = paths["/api/v1/signals"]["post"]
    assert {p["name"] for p in signals_op["parameters"]} >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert "CrmAccount" in json.dumps(paths["/api/v1/crm/accounts"]["post"]["requestBody"])
    assert "Error" in schema["components"]["schemas"]
    assert client.get("/api/docs/").status_code == 200
