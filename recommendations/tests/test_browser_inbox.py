"""The inbox in real headless Chromium (Debian's /usr/bin/chromium, never `playwright install`).

The story of issue 6: signals arrive through the public ingestion API; a rep logs in, reads a
recommendation's evidence, edits and approves it (the e-mail reaches a loopback SMTP server), rejects
another, snoozes a third, cancels an autopilot action; a second rep cannot see any of it.
Screenshots land in test-artifacts/ (gitignored)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # playwright's sync API runs an event loop

import pytest
from standardwebhooks.webhooks import Webhook

from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from recommendations.models import ActionType, Evidence, Recommendation, Review
from recommendations.tests.factories import EvidenceFactory, RecommendationFactory
from salesai import clock
from signals.models import Signal, Source
from signals.sources import create_source

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.browser  # not "integration": the executor runs eagerly in the live server thread


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        reason = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if ON_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def rep_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def send_signed_signals(base_url: str, source: Source, events: list[dict]) -> dict:
    """POST signals to /api/v1/signals exactly as an outside system would: signed per Standard Webhooks."""
    body = json.dumps(events)
    webhook_id = f"msg_{uuid.uuid4().hex}"
    now = dt.datetime.now(tz=dt.UTC)
    request = urllib.request.Request(
        f"{base_url}/api/v1/signals",
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(source.signing_secret).sign(webhook_id, now, body),
            "webhook-source": source.name,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise AssertionError(f"ingestion refused the signals: {error.code} {error.read().decode()}") from error


def recommendation_from_signals(account) -> Recommendation:
    """The recommendation the engine made from the ingested signals (analysis runs on commit, eagerly
    in tests), with those signals as its evidence."""
    signal_ids = set(Signal.objects.filter(account=account).values_list("pk", flat=True))
    assert signal_ids, "the ingestion API stored no signal for the account"
    rec = Recommendation.objects.filter(account=account, status=Recommendation.Status.PENDING).first()
    assert rec is not None, "the engine made no recommendation from the ingested signals"
    evidence = set(rec.evidence.exclude(signal=None).values_list("signal_id", flat=True))
    assert evidence and evidence <= signal_ids
    return rec


@pytest.fixture
def world(transactional_db, settings):
    settings.SITE_URL = "http://testserver"
    alice = UserFactory(username="alice", email="alice@salesai.test", first_name="Alice", last_name="Ng")
    bob = UserFactory(username="bob", email="bob@salesai.test")
    acme = AccountFactory(owner=alice, name="Acme Robotics", domain="acme-robotics.com")
    dana = ContactFactory(account=acme, name="Dana Scully", email="dana@acme-robotics.com", title="VP Ops")
    others = [AccountFactory(owner=alice, name=name) for name in ("Globex", "Initech", "Umbrella")]
    bobs = AccountFactory(owner=bob, name="Bob's Secret Corp")
    return {"alice": alice, "bob": bob, "acme": acme, "dana": dana, "others": others, "bobs": bobs}


def test_the_rep_story_from_signals_to_decisions(rep_page, live_server, world, smtp_server):
    page = rep_page
    base = live_server.url
    acme, dana = world["acme"], world["dana"]
    source, _ = create_source(name="website", kind=Source.Kind.GENERIC)
    now = clock.now()
    answer = send_signed_signals(
        base,
        source,
        [
            {
                "kind": "page_view",
                "name": "Pricing",
                "occurred_at": (now - dt.timedelta(days=days)).isoformat(),
                "contact_email": dana.email,
                "account_domain": acme.domain,
                "properties": {"path": "/pricing", "title": "Pricing"},
            }
            for days in (2, 1, 0)
        ],
    )
    assert answer["stored"] == 3, answer
    main = recommendation_from_signals(acme)
    assert main.contact_id == dana.pk and main.action_type == ActionType.PRICING_OUTREACH
    globex, initech, umbrella = world["others"]
    to_reject = RecommendationFactory(account=globex, title="Globex went quiet: re-engage", priority=70)
    to_snooze = RecommendationFactory(account=initech, title="Initech renewal in 58 days", priority=50)
    autopilot = RecommendationFactory(account=umbrella, title="Check in with Umbrella", scheduled=True)
    secret = RecommendationFactory(account=world["bobs"], title="Bob's big deal")

    # log in and find the card, highest priority first
    login(page, base, "alice")
    order = page.locator("article.rec").evaluate_all("cards => cards.map(c => c.id)")
    assert order.index(f"rec-{to_reject.pk}") < order.index(f"rec-{to_snooze.pk}")  # priority 70 before 50
    assert f"rec-{main.pk}" in order
    card = page.locator(f"#rec-{main.pk}")
    assert "Needs your review because" in card.inner_text()
    assert page.locator("#inbox-badge .badge").get_attribute("data-count") == "3"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)

    # read the evidence: each fact opens the account's timeline at that event
    facts = card.locator("ol.facts a")
    assert facts.count() >= 1
    first_signal = Evidence.objects.filter(recommendation=main).order_by("-occurred_at", "id").first().signal_id
    facts.first.click()
    page.wait_for_url(f"{base}/accounts/{acme.pk}/#signal-{first_signal}")
    assert page.locator(f"#signal-{first_signal}").is_visible()
    assert "Acme Robotics" in page.locator("h1").inner_text()
    page.screenshot(path=str(ARTIFACTS / "account.png"), full_page=True)
    page.go_back()

    # edit, then approve: the e-mail goes out through the SMTP server
    card = page.locator(f"#rec-{main.pk}")
    card.get_by_text("Edit, then approve").click()
    card.get_by_label("Subject").fill("Plans for Acme Robotics")
    card.get_by_label("Message").fill("Hi Dana,\n\nHappy to walk you through the plans this week.\n\nAlice")
    card.get_by_role("button", name="Approve edited draft").click()
    card.locator(".notice").wait_for()
    assert "Edited and approved" in card.inner_text()
    assert page.locator("#main > h1, .inbox-head h1").count() == 1  # only the card was swapped
    main.refresh_from_db()
    assert main.reviews.get().decision == Review.Decision.EDITED
    from conftest import wait_until

    wait_until(lambda: smtp_server.envelopes, timeout=10)
    sent = smtp_server.envelopes[0]
    assert sent.rcpt_tos == [dana.email]
    assert "Plans for Acme Robotics" in sent.content.decode()

    # reject another, with a reason
    card = page.locator(f"#rec-{to_reject.pk}")
    card.get_by_text("Reject").first.click()
    card.get_by_label("Reason").select_option("wrong_timing")
    card.get_by_label("Anything to add?").fill("They are mid-migration until January.")
    card.get_by_role("button", name="Reject", exact=True).click()
    card.locator(".notice").wait_for()
    to_reject.refresh_from_db()
    assert to_reject.status == Recommendation.Status.REJECTED
    assert to_reject.reviews.get().reason_text == "They are mid-migration until January."

    # snooze a third, with the keyboard: j/k to move, s to open the snooze form
    page.locator("body").click(position={"x": 5, "y": 5})
    order = page.locator("article.rec").evaluate_all("cards => cards.map(c => c.id)")
    target = order.index(f"rec-{to_snooze.pk}")
    for _ in range(target + 1):
        page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") == order[min(target + 1, len(order) - 1)]
    if target + 1 < len(order):
        page.keyboard.press("k")
    assert page.evaluate("document.activeElement.id") == f"rec-{to_snooze.pk}"
    page.keyboard.press("s")
    card = page.locator(f"#rec-{to_snooze.pk}")
    until = (clock.now() + dt.timedelta(days=7)).date()
    card.get_by_label("Bring it back on").fill(until.isoformat())
    card.get_by_role("button", name="Snooze", exact=True).click()
    card.locator(".notice").wait_for()
    to_snooze.refresh_from_db()
    assert to_snooze.status == Recommendation.Status.SNOOZED and to_snooze.snoozed_until.date() == until

    # cancel an autopilot action inside its undo window
    page.get_by_role("link", name="Autopilot").click()
    page.wait_for_url(f"{base}/autopilot/")
    card = page.locator(f"#rec-{autopilot.pk}")
    assert "unless you cancel" in card.inner_text()
    countdown = card.locator("time[data-countdown]").inner_text()
    assert countdown.startswith("in ")
    page.screenshot(path=str(ARTIFACTS / "autopilot.png"), full_page=True)
    card.get_by_role("button", name="Cancel").click()
    card.locator(".notice").wait_for()
    autopilot.refresh_from_db()
    assert autopilot.status == Recommendation.Status.PENDING
    assert autopilot.reviews.get().decision == Review.Decision.CANCELLED

    # a second rep sees none of it, not even by guessing the URL
    page.get_by_role("button", name="Log out").click()
    login(page, base, "bob")
    text = page.locator("main").inner_text()
    assert "Bob's big deal" in text
    assert "Acme" not in text and "Globex" not in text
    response = page.goto(f"{base}/recommendations/{main.pk}/")
    assert response.status == 404
    response = page.goto(f"{base}/accounts/{acme.pk}/")
    assert response.status == 404
    assert secret.status == Recommendation.Status.PENDING


def test_new_recommendations_appear_without_reload(rep_page, live_server, world):
    page = rep_page
    RecommendationFactory(account=world["acme"], title="First one")
    login(page, live_server.url, "alice")
    assert page.locator("#inbox-badge .badge").get_attribute("data-count") == "1"

    RecommendationFactory(account=world["others"][0], title="Arrived later", created_at=clock.now())
    page.evaluate("htmx.trigger(document.body, 'inbox-changed')")  # the same request every 10 s makes

    page.locator("#new-banner").get_by_text("1 new recommendation arrived").wait_for()
    assert page.locator("#inbox-badge .badge").get_attribute("data-count") == "2"
    assert page.title().startswith("Inbox (2)")


def test_approve_with_the_a_key_and_without_javascript(chromium, rep_page, live_server, world):
    page = rep_page
    first = RecommendationFactory(account=world["acme"], title="Keyboard approve", priority=90)
    second = RecommendationFactory(account=world["others"][0], title="No-JS approve", priority=10)
    login(page, live_server.url, "alice")
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.locator(f"#rec-{first.pk} .notice").wait_for()
    assert first.reviews.get().decision == Review.Decision.APPROVED

    context = chromium.new_context(java_script_enabled=False)
    plain = context.new_page()
    login(plain, live_server.url, "alice")
    plain.locator(f"#rec-{second.pk}").get_by_role("button", name="Approve").click()
    plain.wait_for_url(f"{live_server.url}/")
    assert "Approved: No-JS approve" in plain.locator(".messages").inner_text()
    assert second.reviews.get().decision == Review.Decision.APPROVED
    context.close()


def test_phone_width_layout(chromium, live_server, world):
    account = world["acme"]
    signal_source, _ = create_source(name="web-phone", kind=Source.Kind.GENERIC)
    signal = Signal.objects.create(
        source=signal_source,
        kind=Signal.Kind.PAGE_VIEW,
        external_id="phone-1",
        account=account,
        occurred_at=clock.now() - dt.timedelta(hours=3),
        received_at=clock.now(),
        properties={"path": "/pricing"},
    )
    rec = RecommendationFactory(account=account, contact=world["dana"], title="Acme is back on the pricing page")
    EvidenceFactory(recommendation=rec, signal=signal, statement="Dana viewed /pricing", occurred_at=signal.occurred_at)
    context = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    login(page, live_server.url, "alice")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    page.screenshot(path=str(ARTIFACTS / "inbox-390px.png"), full_page=True)
    context.close()
