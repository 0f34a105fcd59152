"""A reply whose sender is not verified is kept with its intent, but analysis does not act on what it asked
(issue 13, finding 5): a forged "unsubscribe" or bounce must not silence a real contact."""

# ruff: noqa: F811 — the fixtures imported from inbound_helpers are test arguments of the same name
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recommendations.picture import build_facts
from signals.tests.inbound_helpers import (  # noqa: F401 — pytest finds the fixtures by name
    URL,
    auth,
    email_source,
    outreach,
    sendgrid_payload,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.UTC)
UNSUBSCRIBE = "Please remove me from your mailing list."


def _post(client, auth, payload) -> None:
    response = client.post(URL, payload, **auth)
    assert response.status_code == 201, response.content


@time_machine.travel(NOW, tick=False)
def test_forged_unsubscribe_does_not_silence_the_contact_in_analysis(client, auth, outreach):
    _post(
        client, auth, sendgrid_payload(text=UNSUBSCRIBE, in_reply_to="<not-ours@acme.com>", spf="neutral", dkim="none")
    )
    assert outreach.contact_id not in build_facts(account=outreach.account, now=NOW).suppressed


@time_machine.travel(NOW, tick=False)
def test_verified_unsubscribe_silences_the_contact_in_analysis(client, auth, outreach):
    _post(client, auth, sendgrid_payload(text=UNSUBSCRIBE))
    suppressed = build_facts(account=outreach.account, now=NOW).suppressed
    assert (
        suppressed[outreach.contact_id].startswith("do not contact")
        or "unsubscribed" in suppressed[outreach.contact_id]
    )
