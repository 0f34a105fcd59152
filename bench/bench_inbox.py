"""Inbox latency with 10,000 pending recommendations, beside a bare Django view in the same run.

Runs in a throwaway database created like the test runner does (``test_…`` on PostgreSQL, in-memory
on SQLite), so the configured database is never written to. The inbox's first page is requested ~200
times with Django's test Client (the full middleware stack, session auth, template rendering); the
ceiling is a bare view behind the same middleware that only loads the logged-in user."""

from __future__ import annotations

import os
import sys
import time

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from bench.common import BenchContext, Figure, median, percentile, time_calls

PENDING = 10_000
ACCOUNTS = 1_000  # one open recommendation per (account, action type): 10 action types each
ACTIONS_PER_ACCOUNT = PENDING // ACCOUNTS


def bare_view(request: HttpRequest) -> HttpResponse:
    """The floor: same middleware, session and user lookup, no query of ours, no template."""
    return HttpResponse(f"ok {request.user.is_authenticated}")


urlpatterns = [
    path("bench/bare", bare_view),
    path("", include("salesai.urls")),
]


def _populate() -> object:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.models import Account, AccountPicture, Contact
    from recommendations.models import ActionType, Evidence, Recommendation
    from salesai import clock
    from salesai.roles import REP_GROUP
    from trust.models import TrustDecision

    rep = get_user_model().objects.create_user("bench-rep", "bench-rep@salesai.test", "bench")
    rep.groups.add(Group.objects.get_or_create(name=REP_GROUP)[0])
    Account.objects.bulk_create(
        [Account(name=f"Account {i:04d}", domain=f"account{i}.example", owner=rep) for i in range(ACCOUNTS)],
        batch_size=1000,
    )
    accounts = list(Account.objects.filter(owner=rep).order_by("pk"))
    AccountPicture.objects.bulk_create([AccountPicture(account=a) for a in accounts], batch_size=1000)
    Contact.objects.bulk_create(
        [Contact(account=a, email=f"buyer@{a.domain}", name=f"Buyer {a.pk}", title="Head of Ops") for a in accounts],
        batch_size=1000,
    )
    contacts = {c.account_id: c for c in Contact.objects.filter(account__in=accounts)}
    now = clock.now()
    decisions = TrustDecision.objects.bulk_create(
        [
            TrustDecision(domain="pricing_outreach", verdict="review", reasons=["only 3 of 20 reviews so far."])
            for _ in range(PENDING)
        ],
        batch_size=2000,
    )
    recommendations = Recommendation.objects.bulk_create(
        [
            Recommendation(
                account=account,
                contact=contacts[account.pk],
                action_type=action,
                playbook="bench",
                title=f"{account.name}: {action.replace('_', ' ')}",
                priority=(i * 37 + j * 11) % 101,
                confidence=0.7,
                reasoning=f"{account.name} visited the pricing page 3 times this week.",
                rationale="Reaching out within a day of a pricing revisit usually gets a reply.",
                draft_subject="Anything I can help with?",
                draft_body="Hi,\n\nHappy to walk you through plans.\n\nBest",
                trust_decision=decisions[i * ACTIONS_PER_ACCOUNT + j],
                created_at=now,
                updated_at=now,
            )
            for i, account in enumerate(accounts)
            for j, action in enumerate(ActionType.values[:ACTIONS_PER_ACCOUNT])
        ],
        batch_size=2000,
    )
    Evidence.objects.bulk_create(
        [
            Evidence(
                recommendation=rec, kind="page_view", statement=f"Visited /pricing ({n + 1} of 3)", occurred_at=now
            )
            for rec in recommendations
            for n in range(3)
        ],
        batch_size=5000,
    )
    assert Recommendation.objects.filter(status="pending").count() == PENDING
    return rep


def run(ctx: BenchContext) -> list[Figure]:
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from recommendations.views import PAGE_SIZE

    requests = 50 if ctx.quick else 200
    on_postgres = connection.vendor == "postgresql"
    if on_postgres:
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"test_bench_inbox_{os.getpid()}"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"   populating {PENDING:,} pending recommendations …", file=sys.stderr, flush=True)
        rep = _populate()
        if on_postgres:  # as autovacuum would after a bulk load: the planner needs row counts
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        # No setup_test_environment(): its instrumented template rendering would slow every page down.
        hosts = ["testserver", *settings.ALLOWED_HOSTS]
        with override_settings(ROOT_URLCONF=__name__, DEBUG=False, ALLOWED_HOSTS=hosts):
            client = Client()
            client.force_login(rep)
            for _ in range(10):  # warm caches, connections, templates
                assert client.get("/").status_code == 200
                assert client.get("/bench/bare").status_code == 200
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                client.get("/")
            queries = len(captured.captured_queries)
            load_before = os.getloadavg()[0]
            cpu_start = time.process_time()
            inbox = time_calls(lambda: client.get("/"), repeat=requests)
            inbox_cpu = (time.process_time() - cpu_start) / requests
            bare = time_calls(lambda: client.get("/bench/bare"), repeat=requests)
            # opening a row: its detail (evidence, what will be sent, trust), one of the first page's rows each time
            from recommendations.models import Recommendation
            from recommendations.selectors import INBOX_ORDER

            first_page = list(Recommendation.objects.order_by(*INBOX_ORDER).values_list("pk", flat=True)[:PAGE_SIZE])
            row_urls = iter([f"/recommendations/{first_page[n % PAGE_SIZE]}/row" for n in range(requests + 1)])
            with CaptureQueriesContext(connection) as captured:
                assert client.get(next(row_urls), HTTP_HX_REQUEST="true").status_code == 200
            row_queries = len(captured.captured_queries)
            opened = time_calls(lambda: client.get(next(row_urls), HTTP_HX_REQUEST="true"), repeat=requests)
            load = max(load_before, os.getloadavg()[0])
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    database = "PostgreSQL" if on_postgres else connection.vendor
    ms = 1000.0
    common = {"bench": "inbox", "unit": "ms", "higher_is_better": False}
    return [
        Figure(
            metric=f"first page p50 ({PENDING:,} pending, {database})",
            value=median(inbox) * ms,
            ceiling=median(bare) * ms,
            ceiling_label="bare Django view p50, same middleware and login",
            extra={"requests": requests},
            **common,
        ),
        Figure(
            metric=f"first page p95 ({PENDING:,} pending, {database})",
            value=percentile(inbox, 95) * ms,
            ceiling=percentile(bare, 95) * ms,
            ceiling_label="bare Django view p95",
            target="≤ 100 ms on PostgreSQL",
            notes=(
                f"{requests} GETs of / ({PAGE_SIZE} compact rows; a row's detail is fetched when it is opened) with the "
                "Django test Client, "
                f"logged in as a rep owning all {PENDING:,}; {queries} SQL queries per page. Load average during "
                f"the run: {load:.1f} on {os.cpu_count()} cores (a busy machine inflates both columns; the ratio "
                f"to the bare view is the stable figure)."
            ),
            **common,
        ),
        Figure(
            metric=f"opening a row p95 (its detail, {database})",
            value=percentile(opened, 95) * ms,
            ceiling=percentile(bare, 95) * ms,
            ceiling_label="bare Django view p95",
            notes=(
                f"{requests} htmx GETs of /recommendations/<id>/row over the first page's rows: the why, evidence, "
                f"what will be sent and the actions of one row; {row_queries} SQL queries; p50 "
                f"{median(opened) * ms:.1f} ms."
            ),
            **common,
        ),
        Figure(
            bench="inbox",
            metric="web process CPU per inbox page",
            value=inbox_cpu * ms,
            unit="ms",
            higher_is_better=False,
            notes="CPU time of the Django process (view, ORM, template) per request: less sensitive to a busy machine.",
        ),
        Figure(
            bench="inbox",
            metric="SQL queries per inbox page",
            value=float(queries),
            unit="queries",
            target="constant (≤ 6: session, user, roles, tab counts, the page's ids, its rows)",
            higher_is_better=False,
        ),
    ]
