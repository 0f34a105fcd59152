"""The review inbox: scoping, what a card shows, filters, paging, live count, and the card actions in
both branches (htmx fragment and plain POST → redirect)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import AccountFactory, ContactFactory, ManagerFactory, UserFactory
from recommendations.models import ActionType, Recommendation, Review
from recommendations.tests.factories import EvidenceFactory, RecommendationFactory
from recommendations.views import PAGE_SIZE
from salesai import clock
from signals.tests.factories import SignalFactory
from trust.models import TrustDecision

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
HOME = reverse("recommendations:home")


@pytest.fixture
def rep():
    return UserFactory(username="alice", email="alice@salesai.test")


@pytest.fixture
def other_rep():
    return UserFactory(username="bob", email="bob@salesai.test")


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


def act_url(rec) -> str:
    return reverse("recommendations:act", args=[rec.pk])


def row_url(rec) -> str:
    return reverse("recommendations:row", args=[rec.pk])


def opened(client, rec) -> str:
    """The row's detail as the inbox fetches it when the row is opened."""
    response = client.get(row_url(rec), HTTP_HX_CURRENT_URL="http://testserver/", **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def _rec_for(owner, **kwargs) -> Recommendation:
    account = AccountFactory(owner=owner)
    return RecommendationFactory(account=account, **kwargs)


# --- reading ------------------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_rep_sees_own_pending_recommendations_highest_priority_first(rep_client, rep, other_rep):
    low = _rec_for(rep, title="Low one", priority=30)
    high = _rec_for(rep, title="High one", priority=90)
    _rec_for(rep, title="Already rejected", status=Recommendation.Status.REJECTED)
    _rec_for(other_rep, title="Bob's secret deal")

    html = rep_client.get(HOME).content.decode()

    assert html.index(f'id="rec-{high.pk}"') < html.index(f'id="rec-{low.pk}"')
    assert "Already rejected" not in html
    assert "Bob&#x27;s secret deal" not in html and "Bob's secret deal" not in html
    assert "2 recommendations" in html


def test_card_shows_evidence_linked_to_the_account_timeline_and_the_trust_reasons(rep_client, rep):
    account = AccountFactory(owner=rep, name="Acme Robotics")
    contact = ContactFactory(account=account, name="Dana Scully", title="VP Operations")
    signal = SignalFactory(account=account, pricing_view=True)
    decision = TrustDecision.objects.create(
        domain=ActionType.PRICING_OUTREACH,
        verdict=TrustDecision.Verdict.REVIEW,
        reasons=["only 3 of 20 reviews so far in pricing outreach."],
    )
    rec = RecommendationFactory(
        account=account,
        contact=contact,
        confidence=0.82,
        rationale="Fast answers to pricing interest convert best.",
        trust_decision=decision,
    )
    EvidenceFactory(recommendation=rec, signal=signal, statement="Visited /pricing", occurred_at=signal.occurred_at)

    listing = rep_client.get(HOME).content.decode()
    assert f'data-rec="{rec.pk}"' in listing and "Acme Robotics" in listing
    assert "Visited /pricing" not in listing  # the detail waits until the row is opened
    html = opened(rep_client, rec)

    assert "Acme Robotics" in html and "Dana Scully" in html and "VP Operations" in html
    assert f'href="/accounts/{account.pk}/#signal-{signal.pk}"' in html
    assert "Visited /pricing" in html
    assert "Needs your review because" in html
    assert "only 3 of 20 reviews so far in pricing outreach." in html
    assert "82% confident" in html
    assert "Fast answers to pricing interest convert best." in html
    assert rec.draft_subject in html


def test_manager_sees_every_rep_and_can_filter_by_rep(client, rep, other_rep):
    mine = _rec_for(rep, title="Alice deal")
    theirs = _rec_for(other_rep, title="Bob deal")
    client.force_login(ManagerFactory())

    everyone = client.get(HOME).content.decode()
    only_bob = client.get(HOME, {"rep": other_rep.pk}).content.decode()

    assert f"rec-{mine.pk}" in everyone and f"rec-{theirs.pk}" in everyone
    assert f"rec-{theirs.pk}" in only_bob and f"rec-{mine.pk}" not in only_bob
    assert 'name="rep"' in everyone


def test_rep_has_no_rep_filter_and_cannot_use_one_to_see_others(rep_client, rep, other_rep):
    theirs = _rec_for(other_rep)
    html = rep_client.get(HOME, {"rep": other_rep.pk}).content.decode()
    assert 'name="rep"' not in html
    assert f"rec-{theirs.pk}" not in html


def test_filters_by_action_type_status_account_and_search(rep_client, rep):
    pricing = _rec_for(rep, title="Pricing look", action_type=ActionType.PRICING_OUTREACH)
    renewal = _rec_for(rep, title="Renewal soon", action_type=ActionType.RENEWAL_OUTREACH)
    snoozed = _rec_for(rep, title="Later", status=Recommendation.Status.SNOOZED)

    by_action = rep_client.get(HOME, {"action_type": ActionType.RENEWAL_OUTREACH}).content.decode()
    by_status = rep_client.get(HOME, {"status": "snoozed"}).content.decode()
    by_account = rep_client.get(HOME, {"account": pricing.account_id, "status": "all"}).content.decode()
    by_search = rep_client.get(HOME, {"q": renewal.account.name}).content.decode()

    assert f"rec-{renewal.pk}" in by_action and f"rec-{pricing.pk}" not in by_action
    assert f"rec-{snoozed.pk}" in by_status and f"rec-{pricing.pk}" not in by_status
    assert f"rec-{pricing.pk}" in by_account and f"rec-{renewal.pk}" not in by_account
    assert f"rec-{renewal.pk}" in by_search and f"rec-{pricing.pk}" not in by_search


def test_bad_filter_values_fall_back_instead_of_failing(rep_client, rep):
    rec = _rec_for(rep)
    response = rep_client.get(HOME, {"status": "nonsense", "account": "x", "action_type": "<script>"})
    assert response.status_code == 200
    assert f"rec-{rec.pk}" in response.content.decode()


def test_paging_with_htmx_answers_the_next_cards_only(rep_client, rep):
    account_owner = rep
    recs = [_rec_for(account_owner, priority=p) for p in range(30)]

    first = rep_client.get(HOME).content.decode()
    more = rep_client.get(HOME, {"page": 2}, **HTMX)

    assert first.count('class="card rec') == PAGE_SIZE
    assert 'href="?page=2"' in first and 'hx-get="?page=2"' in first
    body = more.content.decode()
    assert "<html" not in body
    assert body.count('class="card rec') == 30 - PAGE_SIZE
    assert f"rec-{recs[0].pk}" in body  # lowest priority last


def test_inbox_page_runs_in_a_constant_number_of_queries_with_10000_pending(client, rep, django_assert_max_num_queries):
    """10,000 pending recommendations over 1,000 accounts (one open per account and action type)."""
    from accounts.models import Account
    from recommendations.models import Evidence

    Account.objects.bulk_create(
        [Account(name=f"Bulk {i:04d}", domain=f"bulk{i}.example", owner=rep) for i in range(1000)]
    )
    accounts = list(Account.objects.filter(owner=rep))
    now = clock.now()
    Recommendation.objects.bulk_create(
        [
            Recommendation(
                account=account,
                action_type=action,
                playbook="bulk",
                title=f"{account.name}: {action}",
                priority=(i * 7 + j) % 100,
                reasoning="Bulk",
                created_at=now,
                updated_at=now,
            )
            for i, account in enumerate(accounts)
            for j, action in enumerate(ActionType.values[:10])
        ],
        batch_size=2000,
    )
    assert Recommendation.objects.count() == 10_000
    Evidence.objects.bulk_create(
        [
            Evidence(recommendation=r, statement=f"Fact {n}", occurred_at=now, kind="page_view")
            for r in Recommendation.objects.order_by("-priority")[:200]
            for n in range(3)
        ]
    )
    client.force_login(rep)

    # session, user, roles, the tab counts, the page's ids, its rows: no evidence, no managers' addresses
    # (a row's detail, with those, is fetched when the row is opened)
    with django_assert_max_num_queries(6):
        response = client.get(HOME)
    assert response.status_code == 200
    assert response.content.decode().count('class="card rec') == PAGE_SIZE
    assert "10,000 recommendations" in response.content.decode()

    manager_client = Client()
    manager_client.force_login(ManagerFactory())
    with django_assert_max_num_queries(7):
        manager_client.get(HOME, {"page": 3})


def test_another_reps_recommendation_is_404_in_pages_and_partials(rep_client, other_rep):
    theirs = _rec_for(other_rep)
    detail = reverse("recommendations:detail", args=[theirs.pk])

    assert rep_client.get(detail).status_code == 404
    assert rep_client.get(detail, **HTMX).status_code == 404
    assert rep_client.post(act_url(theirs), {"action": "approve"}).status_code == 404
    assert rep_client.post(act_url(theirs), {"action": "reject", "reason": "other"}, **HTMX).status_code == 404
    assert rep_client.get(reverse("recommendations:account", args=[theirs.account_id])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Recommendation.Status.PENDING


def test_detail_page_shows_one_card(rep_client, rep):
    rec = _rec_for(rep, title="Look at this one")
    html = rep_client.get(reverse("recommendations:detail", args=[rec.pk])).content.decode()
    assert f'id="rec-{rec.pk}"' in html and "Look at this one" in html


# --- live count and the autopilot tab -------------------------------------------------------------------


def test_count_endpoint_reports_pending_and_new_since_page_load(rep_client, rep):
    since = clock.now()
    _rec_for(rep, created_at=since - dt.timedelta(hours=1))
    _rec_for(rep, created_at=since + dt.timedelta(seconds=5))
    _rec_for(rep, created_at=since + dt.timedelta(seconds=6))

    response = rep_client.get(reverse("recommendations:count"), {"since": since.isoformat()}, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert ">3<" in body
    assert "2 new recommendations arrived" in body and 'hx-swap-oob="true"' in body
    assert json.loads(response["HX-Trigger"]) == {"inbox-count": {"pending": 3, "new": 2}}
    assert 'hx-trigger="every 10s, inbox-changed from:body"' in body


def test_inbox_page_polls_the_count(rep_client, rep):
    _rec_for(rep)
    html = rep_client.get(HOME).content.decode()
    assert 'id="inbox-badge"' in html and "every 10s" in html and reverse("recommendations:count") in html


def test_autopilot_tab_lists_scheduled_actions_with_countdown_and_cancel(rep_client, rep):
    scheduled = _rec_for(rep, scheduled=True, title="Check in with Acme")
    pending = _rec_for(rep, title="Pending one")

    listing = rep_client.get(reverse("recommendations:autopilot")).content.decode()
    html = opened(rep_client, scheduled)

    assert f"rec-{scheduled.pk}" in listing and f"rec-{pending.pk}" not in listing
    assert "data-countdown" in html
    assert 'name="action" value="cancel"' in html


# --- actions -----------------------------------------------------------------------------------------------


def test_approve_with_htmx_swaps_only_that_card(rep_client, rep, django_capture_on_commit_callbacks):
    rec = _rec_for(rep, title="Send it")
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(act_url(rec), {"action": "approve", "version": rec.version, "next": HOME}, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith("<article") and "<html" not in body
    assert f'id="rec-{rec.pk}"' in body and 'class="card rec status-scheduled done"' in body
    # one line with the undo, and the counts out of band (no reload)
    assert "Sending to " in body and 'value="cancel"' in body and "Undo" in body
    assert 'id="inbox-badge" class="badge-wrap" hx-swap-oob="true"' in body and 'id="autopilot-count"' in body
    assert json.loads(response["HX-Trigger"])["inbox-changed"]["action"] == "approve"
    rec.refresh_from_db()
    assert rec.status in (Recommendation.Status.SCHEDULED, Recommendation.Status.EXECUTED)
    assert rec.reviews.get().decision == Review.Decision.APPROVED


def test_approve_without_javascript_redirects_with_a_message(rep_client, rep, django_capture_on_commit_callbacks):
    rec = _rec_for(rep, title="Plain approve")
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(
            act_url(rec), {"action": "approve", "version": rec.version, "next": f"{HOME}?status=pending"}
        )

    assert response.status_code == 302 and response["Location"] == f"{HOME}?status=pending"
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith(f"{rec.account.name}, reach out on pricing interest: Sending to ")
    assert rec.reviews.get().decision == Review.Decision.APPROVED


def test_redirect_never_leaves_the_site(rep_client, rep):
    rec = _rec_for(rep)
    response = rep_client.post(
        act_url(rec), {"action": "snooze", "until": "2099-01-01", "next": "https://evil.example/"}
    )
    # a date this far is refused by the form; a valid one must still redirect home, not to evil.example
    assert response.status_code == 400
    tomorrow = (clock.now() + dt.timedelta(days=2)).date().isoformat()
    response = rep_client.post(act_url(rec), {"action": "snooze", "until": tomorrow, "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == HOME


def test_edit_then_approve_sends_the_edited_draft(rep_client, rep, django_capture_on_commit_callbacks):
    rec = _rec_for(rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(
            act_url(rec),
            {
                "action": "edit",
                "version": rec.version,
                "subject": "Pricing, quickly",
                "body": "Hi Dana,\n\nHere are the plans.\n\nAlice",
            },
            **HTMX,
        )
    assert response.status_code == 200 and "Sending to " in response.content.decode()
    review = rec.reviews.get()
    assert review.decision == Review.Decision.EDITED
    assert review.edited_subject == "Pricing, quickly"
    rec.refresh_from_db()
    assert rec.draft_body.startswith("Hi Dana,")


def test_edit_with_an_empty_message_shows_the_error_in_the_card(rep_client, rep):
    rec = _rec_for(rep)
    htmx = rep_client.post(act_url(rec), {"action": "edit", "subject": "Hi", "body": "short"}, **HTMX)
    plain = rep_client.post(act_url(rec), {"action": "edit", "subject": "", "body": ""})

    assert htmx.status_code == 200
    assert "too short to send" in htmx.content.decode()
    assert 'data-panel="edit" open' in htmx.content.decode()
    assert plain.status_code == 400 and "This field is required." in plain.content.decode()
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING and not rec.reviews.exists()


def test_reject_records_the_reason_both_ways(rep_client, rep):
    by_htmx = _rec_for(rep)
    by_post = _rec_for(rep)

    response = rep_client.post(
        act_url(by_htmx), {"action": "reject", "reason": "wrong_contact", "reason_text": "Dana left"}, **HTMX
    )
    plain = rep_client.post(act_url(by_post), {"action": "reject", "reason": "already_handled"})

    assert response.status_code == 200 and "Rejected" in response.content.decode()
    assert plain.status_code == 302
    review = by_htmx.reviews.get()
    assert (review.decision, review.reason, review.reason_text) == ("rejected", "wrong_contact", "Dana left")
    by_post.refresh_from_db()
    assert by_post.status == Recommendation.Status.REJECTED


def test_reject_as_other_needs_a_few_words(rep_client, rep):
    rec = _rec_for(rep)
    response = rep_client.post(act_url(rec), {"action": "reject", "reason": "other"}, **HTMX)
    assert "Please say why" in response.content.decode()
    assert not rec.reviews.exists()


def test_snooze_until_a_day_in_the_rep_time_zone(rep_client, rep):
    rec = _rec_for(rep)
    day = (clock.now() + dt.timedelta(days=3)).date()
    response = rep_client.post(act_url(rec), {"action": "snooze", "until": day.isoformat()}, **HTMX)
    assert response.status_code == 200 and "Snoozed until" in response.content.decode()
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.SNOOZED
    assert rec.snoozed_until.date() == day


def test_snooze_into_the_past_is_refused(rep_client, rep):
    rec = _rec_for(rep)
    yesterday = (clock.now() - dt.timedelta(days=1)).date().isoformat()
    response = rep_client.post(act_url(rec), {"action": "snooze", "until": yesterday}, **HTMX)
    assert "Pick a day after today." in response.content.decode()
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING


def test_cancel_an_autopilot_action_both_ways(rep_client, rep):
    by_htmx = _rec_for(rep, scheduled=True)
    by_post = _rec_for(rep, scheduled=True)

    response = rep_client.post(act_url(by_htmx), {"action": "cancel"}, **HTMX)
    plain = rep_client.post(act_url(by_post), {"action": "cancel", "next": reverse("recommendations:autopilot")})

    assert "Undone: nothing was sent" in response.content.decode()
    assert plain.status_code == 302 and plain["Location"] == reverse("recommendations:autopilot")
    for rec in (by_htmx, by_post):
        rec.refresh_from_db()
        assert rec.status == Recommendation.Status.PENDING
        assert rec.reviews.get().decision == Review.Decision.CANCELLED


def test_a_refused_transition_is_explained_not_a_500(rep_client, rep):
    rec = _rec_for(rep, status=Recommendation.Status.REJECTED)

    htmx = rep_client.post(act_url(rec), {"action": "approve", "version": rec.version}, **HTMX)
    plain = rep_client.post(act_url(rec), {"action": "approve", "version": rec.version})

    assert htmx.status_code == 200 and 'role="alert"' in htmx.content.decode()
    assert "only one awaiting review can be approved" in htmx.content.decode()
    assert plain.status_code == 302
    assert "only one awaiting review" in str(list(get_messages(plain.wsgi_request))[0])


def test_unknown_action_is_a_400(rep_client, rep):
    rec = _rec_for(rep)
    assert rep_client.post(act_url(rec), {"action": "delete"}).status_code == 400


def test_actions_are_csrf_protected(rep):
    rec = _rec_for(rep)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.post(act_url(rec), {"action": "approve"}, **HTMX).status_code == 403
    page = client.get(HOME).content.decode()
    assert '"X-CSRFToken":' in page  # htmx sends it from <body hx-headers>
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING


def test_actions_only_accept_post(rep_client, rep):
    rec = _rec_for(rep)
    assert rep_client.get(act_url(rec)).status_code == 405


def test_inbox_cards_load_their_forms_on_demand_with_or_without_javascript(rep_client, rep):
    rec = _rec_for(rep)
    detail = reverse("recommendations:detail", args=[rec.pk])

    row = opened(rep_client, rec)
    assert f'href="{detail}?panel=reject"' in row and f'hx-get="{detail}?panel=reject"' in row
    assert 'name="reason"' not in row  # an opened row stays light too

    fragment = rep_client.get(
        detail, {"panel": "reject"}, HTTP_HX_CURRENT_URL="http://testserver/?status=pending", **HTMX
    ).content.decode()
    assert fragment.strip().startswith("<article") and 'data-panel="reject" open' in fragment
    assert 'name="next" value="/?status=pending"' in fragment

    page = rep_client.get(detail, {"panel": "edit"}).content.decode()
    assert "<html" in page and 'data-panel="edit" open' in page and 'name="subject"' in page


def test_count_endpoint_ignores_a_garbled_since(rep_client, rep):
    _rec_for(rep)
    for since in ("2026-13-45T10:00:00+00:00", "yesterday", ""):
        response = rep_client.get(reverse("recommendations:count"), {"since": since}, **HTMX)
        assert response.status_code == 200
        assert json.loads(response["HX-Trigger"])["inbox-count"] == {"pending": 1, "new": 0}


# --- a row's detail, fetched when the row is opened ---------------------------------------------------------


def test_the_list_renders_compact_rows_that_fetch_their_detail_or_link_to_it(rep_client, rep):
    rec = _rec_for(rep, title="Compact", draft_subject="Plans for Acme", rationale="Fast answers convert.")
    listing = rep_client.get(HOME).content.decode()
    assert f'data-rec="{rec.pk}"' in listing and f'data-body-url="{row_url(rec)}"' in listing
    assert rec.account.name in listing and rec.get_action_type_display() in listing
    # no JavaScript: opening the row shows a link to the recommendation's own page
    detail = reverse("recommendations:detail", args=[rec.pk])
    assert f'<a href="{detail}">Open this recommendation</a>' in listing
    assert "Plans for Acme" not in listing and "Fast answers convert." not in listing

    row = opened(rep_client, rec)
    assert row.strip().startswith('<div class="row-body">') and "<html" not in row
    assert "Plans for Acme" in row and "Fast answers convert." in row
    assert 'name="action" value="approve"' in row and 'name="next" value="/"' in row


def test_another_reps_row_detail_is_a_404(rep_client, rep, other_rep):
    theirs = _rec_for(other_rep, title="Bob's secret deal")
    response = rep_client.get(row_url(theirs), **HTMX)
    assert response.status_code == 404
    assert "secret deal" not in response.content.decode()


def test_row_detail_needs_a_login(client, rep):
    response = client.get(row_url(_rec_for(rep)), **HTMX)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_row_detail_runs_in_a_constant_number_of_queries(rep_client, rep, django_assert_max_num_queries):
    rec = _rec_for(rep)
    EvidenceFactory.create_batch(30, recommendation=rec)
    # session, user, roles, the row with its relations, its evidence: not one per fact
    with django_assert_max_num_queries(5):
        opened(rep_client, rec)
