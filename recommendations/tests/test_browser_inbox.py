"""The inbox in real headless Chromium (Debian's /usr/bin/chromium, never `playwright install`).

The story of issue 6: signals arrive through the public ingestion API; a rep logs in, reads a
recommendation's evidence, edits and approves it (the e-mail reaches a loopback SMTP server), rejects
another, snoozes a third, cancels an autopilot action; a second rep cannot see any of it.
Screenshots land in test-artifacts/ (gitignored)."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import urllib.error
import urllib.request
import uuid

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # playwright's sync API runs an event loop

import pytest
import time_machine
from standardwebhooks.webhooks import Webhook

from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from conftest import DESKTOP, PHONE, snapshot
from recommendations.models import ActionType, Evidence, Recommendation, Review
from recommendations.tests.factories import EvidenceFactory, RecommendationFactory
from salesai import clock
from signals.models import Signal, Source
from signals.sources import create_source

PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.browser  # not "integration": the executor runs eagerly in the live server thread


@pytest.fixture
def rep_page(chromium):
    context = chromium.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")
    page.wait_for_load_state("load")  # inbox.js (deferred) listens for the keys from here on


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


def open_row(row) -> None:
    """Open a row in place and wait for its detail, fetched when it is first opened."""
    row.locator("summary.row-line").click()
    row.locator(".row-body section.why").wait_for()


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

    # log in: one row per recommendation, highest priority first
    login(page, base, "alice")
    order = page.locator("article.rec").evaluate_all("rows => rows.map(r => r.dataset.rec)")
    assert order.index(str(to_reject.pk)) < order.index(str(to_snooze.pk))  # priority 70 before 50
    assert str(main.pk) in order
    row = page.locator(f"[data-rec='{main.pk}']")
    assert "Acme Robotics" in row.locator("summary.row-line").inner_text()
    assert not row.locator(".row-body").is_visible()  # folded to one line until opened
    assert page.locator("#inbox-badge .badge").get_attribute("data-count") == "3"
    snapshot(page, "inbox-1366")

    # open it in place: the evidence folded to one line, the dated list a click away, what will be sent
    open_row(row)
    assert "Needs your review because" in row.inner_text()
    assert "3 visits since" in row.locator(".evidence > summary").inner_text()
    envelope = row.locator(".envelope").inner_text()
    assert "dana@acme-robotics.com" in envelope and "alice@salesai.test" in envelope
    row.locator(".evidence > summary").click()
    snapshot(page, "inbox-expanded-1366")
    facts = row.locator("ol.facts a")
    assert facts.count() == 3
    first_signal = Evidence.objects.filter(recommendation=main).order_by("-occurred_at", "id").first().signal_id
    facts.first.click()
    page.wait_for_url(f"{base}/accounts/{acme.pk}/#signal-{first_signal}")
    assert page.locator(f"#signal-{first_signal}").is_visible()
    assert "Acme Robotics" in page.locator("h1").inner_text()
    snapshot(page, "account-1366")
    page.go_back()

    # edit, then approve: the row collapses to one line with its undo; the e-mail goes out after it
    row = page.locator(f"[data-rec='{main.pk}']")
    open_row(row)
    row.get_by_role("link", name="Edit").click()
    row.get_by_label("Subject").fill("Plans for Acme Robotics")
    row.get_by_label("Message").fill("Hi Dana,\n\nHappy to walk you through the plans this week.\n\nAlice")
    row.get_by_role("button", name="Approve edited draft").click()
    page.locator(f"[data-rec='{main.pk}'].done").wait_for()
    assert "Sending to Dana in" in row.inner_text() and "Undo" in row.inner_text()
    assert page.locator("#inbox-badge .badge").get_attribute("data-count") == "2"  # no reload
    assert page.locator("#autopilot-count .badge").inner_text() == "2"
    assert page.locator("#main > h1, .inbox-head h1").count() == 1  # only the row was swapped
    main.refresh_from_db()
    assert main.reviews.get().decision == Review.Decision.EDITED and main.status == "scheduled"
    from recommendations.services.execution import execute_due_actions

    with time_machine.travel(main.scheduled_for + dt.timedelta(seconds=1)):
        execute_due_actions()
    sent = smtp_server.envelopes[0]
    assert sent.rcpt_tos == [dana.email]
    assert "Plans for Acme Robotics" in sent.content.decode()

    # reject another: one key picks the reason
    row = page.locator(f"[data-rec='{to_reject.pk}']")
    open_row(row)
    row.get_by_role("link", name="Reject").click()
    row.get_by_label("Anything to add?").fill("They are mid-migration until January.")
    row.get_by_role("button", name="Wrong timing").click()
    page.locator(f"[data-rec='{to_reject.pk}'].done").wait_for()
    assert "Rejected: Wrong timing" in row.inner_text()
    to_reject.refresh_from_db()
    assert to_reject.status == Recommendation.Status.REJECTED
    assert to_reject.reviews.get().reason_text == "They are mid-migration until January."

    # snooze a third with the keyboard: j/k move and open, s then 1 = tomorrow
    page.locator("body").click(position={"x": 5, "y": 5})
    order = page.locator("article.rec:not(.done)").evaluate_all("rows => rows.map(r => r.id)")
    target = order.index(f"rec-{to_snooze.pk}")
    for _ in range(target + 1):
        page.keyboard.press("j")
    current = "document.activeElement.closest('article.rec').id"
    assert page.evaluate(current) == order[min(target + 1, len(order) - 1)]
    if target + 1 < len(order):
        page.keyboard.press("k")
    assert page.evaluate(current) == f"rec-{to_snooze.pk}"
    assert page.locator(f"#rec-{to_snooze.pk} details.row").get_attribute("open") is not None
    page.keyboard.press("s")
    page.locator(f"#rec-{to_snooze.pk} details[data-panel=snooze][open]").wait_for()
    page.keyboard.press("1")
    page.locator(f"[data-rec='{to_snooze.pk}'].done").wait_for()
    assert "Snoozed until" in page.locator(f"#rec-{to_snooze.pk}").inner_text()
    to_snooze.refresh_from_db()
    assert to_snooze.status == Recommendation.Status.SNOOZED

    # undo an autopilot action inside its window
    page.get_by_role("link", name="Autopilot").click()
    page.wait_for_url(f"{base}/autopilot/")
    row = page.locator(f"[data-rec='{autopilot.pk}']")
    open_row(row)
    assert "unless you undo it" in row.inner_text()
    assert row.locator("time[data-countdown]").inner_text().startswith("in ")
    snapshot(page, "autopilot-1366")
    row.get_by_role("button", name="Undo").click()
    row.locator(".notice").wait_for()
    autopilot.refresh_from_db()
    assert autopilot.status == Recommendation.Status.PENDING
    assert autopilot.reviews.get().decision == Review.Decision.CANCELLED

    # a second rep sees none of it, not even by guessing the URL
    page.get_by_role("button", name="Log out").click()
    login(page, base, "bob")
    text = page.locator("main").inner_text()
    assert "Bob's Secret Corp" in text
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
    page.locator(f"#rec-{first.pk}.done").wait_for()
    assert first.reviews.get().decision == Review.Decision.APPROVED
    # the focus moves on to the next row, opened
    page.wait_for_function(f"document.activeElement.closest('article.rec')?.id === 'rec-{second.pk}'")
    assert page.locator(f"#rec-{second.pk} details.row").get_attribute("open") is not None

    context = chromium.new_context(java_script_enabled=False)
    plain = context.new_page()
    login(plain, live_server.url, "alice")
    plain.locator(f"#rec-{second.pk} summary.row-line").click()  # <details> opens without JavaScript too
    # without JavaScript the row's detail is not fetched: the row links to the recommendation's page
    plain.locator(f"#rec-{second.pk}").get_by_role("link", name="Open this recommendation").click()
    detail = f"{live_server.url}/recommendations/{second.pk}/"
    plain.wait_for_url(detail)
    plain.locator(f"#rec-{second.pk}").get_by_role("button", name="Approve").click()
    plain.wait_for_url(detail)
    assert "Sending to " in plain.locator(".messages").inner_text()
    assert second.reviews.get().decision == Review.Decision.APPROVED
    context.close()


def many(world, count: int) -> list[Recommendation]:
    """``count`` pending recommendations over fresh accounts of Alice's, each with a contact and facts."""
    recs = []
    for i in range(count):
        # not "company{n}.example": AccountFactory gets-or-creates by domain, and its own sequence uses those
        # (an earlier test's factories could hand Alice's row to Bob's account)
        account = AccountFactory(owner=world["alice"], name=f"Company {i:02d}", domain=f"firm{i:02d}.example")
        contact = ContactFactory(account=account, name=f"Person {i:02d}", email=f"person{i:02d}@firm{i:02d}.example")
        rec = RecommendationFactory(account=account, contact=contact, priority=90 - i, why_now="Pricing viewed 3 times")
        for hours in (1, 5, 30):
            EvidenceFactory(recommendation=rec, kind="page_view", occurred_at=clock.now() - dt.timedelta(hours=hours))
        recs.append(rec)
    return recs


def test_a_keyboard_session_clears_20_recommendations_in_under_a_minute(rep_page, live_server, world):
    """The done-when of issue 14: j opens the first row, then a approves, r 2 rejects ("wrong
    contact"), s 1 snoozes to tomorrow; each row collapses and the next one opens by itself."""
    recs = many(world, 20)
    page = rep_page
    login(page, live_server.url, "alice")
    plan = {rec.pk: ("r" if i % 5 == 4 else "s" if i % 7 == 6 else "a") for i, rec in enumerate(recs)}
    started = time.monotonic()
    page.keyboard.press("j")
    for i, rec in enumerate(recs):
        try:
            page.wait_for_function(f"document.activeElement.closest('article.rec')?.id === 'rec-{rec.pk}'")
        except Exception:
            active = page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
            rows = page.evaluate(
                "[...document.querySelectorAll('article.rec')].map(r => r.id + (r.classList.contains('done') ? '*' : ''))"
            )
            raise AssertionError(
                f"row {i} ({plan[rec.pk]}) never got the focus; it is on {active}; rows {rows}"
            ) from None
        key = plan[rec.pk]
        page.keyboard.press(key)
        if key in "rs":
            page.locator(f"#rec-{rec.pk} details[data-panel][open]").wait_for()
            page.keyboard.press("2" if key == "r" else "1")
        page.locator(f"#rec-{rec.pk}.done").wait_for()
    elapsed = time.monotonic() - started
    snapshot(page, "inbox-cleared-1366")
    assert elapsed < 60, f"20 recommendations took {elapsed:.1f} s"
    final = dict(Recommendation.objects.filter(pk__in=plan).values_list("pk", "status"))
    expected = {"a": "scheduled", "r": "rejected", "s": "snoozed"}
    assert final == {pk: expected[key] for pk, key in plan.items()}
    assert page.locator("#inbox-badge .badge").count() == 0  # the count went to zero without a reload
    print(f"keyboard session: 20 recommendations in {elapsed:.1f} s")


@pytest.mark.parametrize(("viewport", "least"), [(DESKTOP, 6), (PHONE, 4)], ids=["1366x900", "390x844"])
def test_rows_that_fit_the_first_screen(chromium, live_server, world, viewport, least):
    many(world, 12)
    context = chromium.new_context(viewport=viewport, is_mobile=viewport == PHONE)
    page = context.new_page()
    login(page, live_server.url, "alice")
    bottoms = page.locator("article.rec").evaluate_all("rows => rows.map(r => r.getBoundingClientRect().bottom)")
    visible = sum(1 for bottom in bottoms if bottom <= viewport["height"])
    snapshot(page, f"inbox-fit-{viewport['width']}")
    assert visible >= least, f"only {visible} whole rows in the first {viewport['width']}x{viewport['height']} screen"
    context.close()


def test_what_will_happen_escalation_and_no_recipient(rep_page, live_server, world):
    from accounts.tests.factories import ManagerFactory

    ManagerFactory(username="maria", email="maria@salesai.test", first_name="Maria", last_name="Lopez")
    escalation = RecommendationFactory(
        account=world["acme"], action_type=ActionType.CHURN_ESCALATION, title="Churn risk at Acme", priority=95
    )
    nobody = RecommendationFactory(account=world["others"][0], contact=None, title="No one to write to", priority=90)
    page = rep_page
    login(page, live_server.url, "alice")
    row = page.locator(f"#rec-{escalation.pk}")
    open_row(row)
    text = row.locator(".outgoing").inner_text()
    assert "internal e-mail, nothing to the customer" in text.lower()
    assert "maria@salesai.test" in text and "alice@salesai.test" in text  # To the manager, Cc the owner
    assert "dana@acme-robotics.com" not in text
    assert "[salesai] Escalation: Churn risk at Acme" in text
    snapshot(page, "inbox-escalation-1366")
    row = page.locator(f"#rec-{nobody.pk}")
    open_row(row)
    approve = row.get_by_role("button", name="Approve")
    assert approve.is_disabled()
    assert "Cannot approve: No one to send it to" in row.inner_text()
    page.keyboard.press("a")  # the key does nothing on a disabled approve
    assert Recommendation.objects.get(pk=nobody.pk).status == "pending"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "390"])
def test_every_page_at_both_sizes(chromium, live_server, world, viewport):
    """Screenshots of every page (test-artifacts/), each checked by axe-core and for sideways scrolling."""
    from accounts.tests.factories import ManagerFactory

    recs = many(world, 3)
    RecommendationFactory(account=world["others"][1], title="Scheduled one", scheduled=True)
    ManagerFactory(username="maria")
    context = chromium.new_context(viewport=viewport, is_mobile=viewport == PHONE)
    page = context.new_page()
    base, size = live_server.url, viewport["width"]
    login(page, base, "alice")
    pages = {
        "inbox": "/",
        "autopilot": "/autopilot/",
        "detail": f"/recommendations/{recs[0].pk}/",
        "account": f"/accounts/{recs[0].account_id}/",
        "preferences": "/preferences/",
    }
    for name, path in pages.items():
        page.goto(base + path)
        snapshot(page, f"page-{name}-{size}")
    page.goto(base + "/")
    open_row(page.locator("article.rec").first)
    snapshot(page, f"page-inbox-open-{size}")
    page.get_by_role("button", name="Log out").click()
    login(page, base, "maria")
    for name, path in {"manager-inbox": "/", "trust": "/trust/"}.items():
        page.goto(base + path)
        snapshot(page, f"page-{name}-{size}")
    context.close()
