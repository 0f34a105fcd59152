"""Automated visitors (crawlers, HTTP libraries, mail gateways' link scanners) are stored, flagged
``is_bot`` at ingestion, and never count as a person's interest."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import override_settings
from segment.analytics import Client as SegmentClient

from signals.bots import is_automated, user_agent_of
from signals.models import Signal
from signals.tests.helpers import make_source

SCANNERS = [
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0) Mimecast-LinkScanner",
    "Mozilla/5.0 (compatible; ProofpointURLDefense/1.0)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "python-requests/2.32.3",
    "curl/8.5.0",
]
BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
]


@pytest.mark.parametrize("agent", SCANNERS)
def test_crawlers_libraries_and_mail_scanners_are_automated(agent):
    assert is_automated(agent)


@pytest.mark.parametrize("agent", [*BROWSERS, "", None, 42])
def test_browsers_and_events_without_a_user_agent_are_people(agent):
    assert not is_automated(agent)


def test_an_installation_names_more_automated_visitors_in_settings():
    agent = "Mozilla/5.0 (Windows NT 10.0) AcmeSecureGateway/3.1"
    assert not is_automated(agent)
    with override_settings(SALESAI={**settings.SALESAI, "AUTOMATED_USER_AGENTS": ["AcmeSecureGateway"]}):
        assert is_automated(agent)


def test_the_user_agent_comes_from_segment_s_context_or_the_properties():
    assert user_agent_of({}, {"userAgent": "curl/8"}) == "curl/8"
    assert user_agent_of({"user_agent": "curl/7"}) == "curl/7"
    assert user_agent_of({"path": "/pricing"}, {"page": {}}) == ""


@pytest.mark.django_db(transaction=True)
def test_segment_sdk_page_views_from_a_link_scanner_are_stored_and_flagged(live_server):
    source, write_key = make_source("sdk-bots")
    client = SegmentClient(write_key, host=live_server.url, sync_mode=True, max_retries=0)
    for n, agent in enumerate([SCANNERS[1], BROWSERS[0]]):
        client.page(
            anonymous_id=f"visitor-{n}",
            name="Pricing",
            properties={"path": "/pricing", "url": "https://shop.example/pricing"},
            context={"userAgent": agent},
        )
    client.flush()
    flagged = dict(Signal.objects.filter(source=source).values_list("anonymous_id", "is_bot"))
    assert flagged == {"visitor-0": True, "visitor-1": False}


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [False, True])
def test_signed_signals_with_a_scanner_s_user_agent_are_flagged(batch):
    from recommendations.tests.engine import Ingest

    ingest = Ingest()
    when = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC).isoformat()
    items = [
        {"kind": "page_view", "occurred_at": when, "external_id": f"v{n}-{batch}", "account_domain": "acme.com",
         "properties": {"path": "/pricing", "user_agent": agent}}
        for n, agent in enumerate([SCANNERS[2], BROWSERS[1]])
    ]  # fmt: skip
    if batch:
        ingest.send(*items)
    else:
        for item in items:
            ingest.send(item)
    stored = dict(Signal.objects.filter(source=ingest.source).values_list("external_id", "is_bot"))
    assert stored == {f"v0-{batch}": True, f"v1-{batch}": False}
