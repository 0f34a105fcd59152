"""CRM sync: POST /api/v1/crm/accounts, import_crm and create_api_token share one service."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from accounts.models import Account, Contact, Contract, Opportunity
from accounts.tests.factories import AccountFactory, ManagerFactory, UserFactory
from audit.models import AuditEvent
from signals.models import Signal

pytestmark = pytest.mark.django_db
URL = "/api/v1/crm/accounts"


@pytest.fixture
def manager_token():
    return Token.objects.create(user=ManagerFactory(username="mgr")).key


def sync(client, token, payload):
    return client.post(URL, json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")


ACME = {
    "domain": "acme.com",
    "name": "Acme Corp",
    "owner": "alice",
    "segment": "enterprise",
    "arr": "120000.00",
    "strategic": True,
    "contacts": [{"email": "CFO@acme.com", "name": "Carla", "title": "CFO"}],
    "opportunities": [{"external_id": "opp-1", "name": "Expansion", "amount": 30000, "stage": "proposal"}],
    "contracts": [{"external_id": "ctr-1", "value": 120000, "renewal_date": "2027-01-31"}],
}


def test_sync_creates_account_with_contacts_opportunities_and_contracts(
    client, manager_token, announced, django_capture_on_commit_callbacks
):
    alice = UserFactory(username="alice")
    with django_capture_on_commit_callbacks(execute=True):
        response = sync(client, manager_token, [ACME])
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 0, 0)
    account = Account.objects.get(domain="acme.com")
    assert (account.name, account.owner, account.segment, account.arr, account.strategic) == (
        "Acme Corp",
        alice,
        "enterprise",
        Decimal("120000.00"),
        True,
    )
    contact = Contact.objects.get(email="cfo@acme.com")
    assert (contact.account, contact.seniority) == (account, "c_level")
    assert Opportunity.objects.get(external_id="opp-1").amount == Decimal("30000")
    assert Contract.objects.get(external_id="ctr-1").renewal_date == dt.date(2027, 1, 31)
    signal = Signal.objects.get(kind="crm_updated")
    assert signal.account == account and signal.source.kind == "crm"
    assert announced[0][1] == [account.pk]
    assert AuditEvent.objects.filter(action="crm.account_synced", actor__username="mgr").exists()


def test_sync_again_with_same_data_changes_nothing_and_records_no_signal(client, manager_token):
    UserFactory(username="alice")
    sync(client, manager_token, [ACME])
    response = sync(client, manager_token, [ACME])
    assert response.json()["unchanged"] == 1
    assert Signal.objects.filter(kind="crm_updated").count() == 1


def test_sync_updates_by_natural_keys(client, manager_token):
    account = AccountFactory(domain="initech.com", arr=Decimal("1000"))
    response = sync(
        client,
        manager_token,
        {
            "accounts": [
                {
                    "domain": "Initech.com",
                    "arr": 5000,
                    "contracts": [{"external_id": "c9", "value": 5000, "renewal_date": "2027-03-01"}],
                }
            ]
        },
    )
    assert response.json()["accounts"] == [
        {"id": account.pk, "domain": "initech.com", "created": False, "changed": ["account", "contracts"]}
    ]
    account.refresh_from_db()
    assert account.arr == Decimal("5000")
    sync(
        client,
        manager_token,
        [{"domain": "initech.com", "contracts": [{"external_id": "c9", "value": 6000, "renewal_date": "2027-04-01"}]}],
    )
    contract = Contract.objects.get(external_id="c9")
    assert (contract.value, contract.renewal_date) == (Decimal("6000"), dt.date(2027, 4, 1))
    assert Signal.objects.filter(kind="crm_updated", account=account).count() == 2


def test_sync_needs_a_token_and_a_manager(client):
    assert client.post(URL, "[]", content_type="application/json").status_code == 401
    rep_token = Token.objects.create(user=UserFactory()).key
    response = sync(client, rep_token, [ACME])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Account.objects.exists()


def test_invalid_request_stores_nothing(client, manager_token):
    response = sync(client, manager_token, [{"domain": "ok.com"}, {"domain": "bad.com", "arr": "x"}])
    assert response.status_code == 400
    assert not Account.objects.exists()


def test_create_api_token_prints_a_working_token(client):
    ManagerFactory(username="boss")
    out = io.StringIO()
    call_command("create_api_token", "boss", stdout=out)
    token = out.getvalue().strip()
    assert Token.objects.get(user__username="boss").key == token
    assert sync(client, token, [{"domain": "viaToken.com"}]).status_code == 200
    again = io.StringIO()
    call_command("create_api_token", "boss", stdout=again)
    assert again.getvalue().strip() == token
    rotated = io.StringIO()
    call_command("create_api_token", "boss", "--rotate", stdout=rotated)
    assert rotated.getvalue().strip() != token
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody")


def test_import_crm_json(tmp_path):
    UserFactory(username="alice")
    path = tmp_path / "crm.json"
    path.write_text(json.dumps([ACME, {"domain": "bad", "arr": 1}]))
    out, err = io.StringIO(), io.StringIO()
    call_command("import_crm", str(path), stdout=out, stderr=err)
    assert "1 created, 0 updated, 0 unchanged, 1 skipped." in out.getvalue()
    assert "1 (bad).domain" in err.getvalue()
    assert Account.objects.get(domain="acme.com").owner.username == "alice"


def test_import_crm_csv_groups_rows_by_domain(tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(
        "domain,name,arr,strategic,contact_email,contact_title,contract_external_id,contract_value,contract_renewal_date\n"
        "globex.com,Globex,50000,true,hank@globex.com,VP Sales,g-1,50000,2027-02-01\n"
        "globex.com,,,,marge@globex.com,Engineer,,,\n"
        "umbrella.com,Umbrella,0,false,,,,,\n"
    )
    out = io.StringIO()
    call_command("import_crm", str(path), stdout=out, stderr=io.StringIO())
    assert "2 created" in out.getvalue()
    globex = Account.objects.get(domain="globex.com")
    assert (globex.name, globex.arr, globex.strategic) == ("Globex", Decimal("50000"), True)
    assert set(globex.contacts.values_list("email", "seniority")) == {
        ("hank@globex.com", "vp"),
        ("marge@globex.com", "individual"),
    }
    assert globex.contracts.get().renewal_date == dt.date(2027, 2, 1)
    call_command("import_crm", str(path), stdout=(again := io.StringIO()), stderr=io.StringIO())
    assert "0 created, 0 updated, 2 unchanged" in again.getvalue()


def test_import_crm_refuses_missing_or_broken_files(tmp_path):
    with pytest.raises(CommandError):
        call_command("import_crm", str(tmp_path / "nope.csv"))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(CommandError):
        call_command("import_crm", str(broken))
    headless = tmp_path / "x.csv"
    headless.write_text("name\nAcme\n")
    with pytest.raises(CommandError):
        call_command("import_crm", str(headless))
