"""The analysis engine: signal-to-recommendation latency through Redis and a real Celery worker (beside
an empty task's round trip in the same run), and the beat sweep's cost as accounts grow.

Runs in a throwaway database created like the test runner does (``test_…`` on PostgreSQL, in-memory
on SQLite), so the configured database is never written to.

- Latency (needs PostgreSQL + Redis): accounts that already had two pricing visits receive a third at
  ~100 signals/s for ~15 s; each makes the worker create a pricing-interest recommendation. Latency
  is ``recommendation.created_at − signal.received_at`` (both stamped by the one clock on this
  machine, the first before the ingest commit, the second inside the analysis transaction). The
  ceiling is ``recommendations.echo`` (an empty task) sent and awaited through the same broker.
- Sweep cost: 1k, 10k and 100k accounts (pictures bulk-inserted) with 1% due; only the sweep's
  selection + analysis of the due accounts is timed. A 100k run with the same number of due accounts
  as the 1k run shows that the cost follows the due accounts, not the total."""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

from bench.common import REPORT_DIR, BenchContext, Figure, median, percentile
from salesai.processes import CeleryWorkerProcess

RATE = 100  # signals per second
LOW_RATE = 10  # a light load first: the latency of one signal when the worker is not saturated
STEP_SECONDS = 1.0  # the figure "after the step" leaves out the load's first second
SWEEP_SIZES = (1_000, 10_000, 100_000)


def _log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


# --- populating -----------------------------------------------------------------------------------


def _bulk_accounts(start: int, count: int, *, prefix: str, owner=None) -> list[int]:
    from accounts.models import Account, AccountPicture

    created = Account.objects.bulk_create(
        [
            Account(name=f"{prefix} {i}", domain=f"{prefix}{i}.example", owner=owner)
            for i in range(start, start + count)
        ],
        batch_size=5000,
    )
    ids = [account.pk for account in created]  # PostgreSQL and SQLite ≥ 3.35 return the new keys
    AccountPicture.objects.bulk_create([AccountPicture(account_id=pk) for pk in ids], batch_size=5000)
    return ids


# --- sweep cost -----------------------------------------------------------------------------------


def _sweep_figures(quick: bool) -> list[Figure]:
    from accounts.models import AccountPicture
    from recommendations.services import analysis as services
    from salesai import clock

    now = clock.now()
    sizes = SWEEP_SIZES[:2] if quick else SWEEP_SIZES
    results: dict[str, tuple[int, int, float]] = {}
    total = 0

    def measure(label: str, due: int) -> None:
        AccountPicture.objects.update(next_check_at=now + dt.timedelta(days=30))
        due_ids = list(
            AccountPicture.objects.filter(account__domain__startswith="sweep")
            .order_by("?")
            .values_list("account_id", flat=True)[:due]
        )
        AccountPicture.objects.filter(account_id__in=due_ids).update(next_check_at=now - dt.timedelta(minutes=1))
        with clock.as_of(now):
            started = time.perf_counter()
            result = services.sweep_due_accounts(time_budget=None)
            seconds = time.perf_counter() - started
        assert result.analysed == due, (result.analysed, due)
        results[label] = (total, due, seconds)
        _log(f"sweep {label}: {total:,} accounts, {due:,} due → {seconds * 1000:.0f} ms")

    warm = _bulk_accounts(0, 5, prefix="warm")
    for pk in warm:  # imports, templates and connections warmed before anything is timed
        services.analyze_account(account_id=pk, force=True)
    for size in sizes:
        _bulk_accounts(total, size - total, prefix="sweep")
        total = size
        measure(f"{size:,}", size // 100)
    measure(f"{total:,} (same due as 1k)", sizes[0] // 100)

    figures = []
    _, base_due, base_seconds = results[f"{sizes[0]:,}"]
    for accounts, due, seconds in results.values():
        figures.append(
            Figure(
                bench="engine",
                metric=f"sweep, {accounts:,} accounts, {due:,} due",
                value=seconds * 1000,
                unit="ms",
                ceiling=base_seconds * 1000 * due / base_due,
                ceiling_label=f"1k-account run scaled by due accounts ({base_due} → {due})",
                target="grows with due accounts, not total",
                higher_is_better=False,
                notes=(f"{seconds * 1000 / due:.1f} ms per due account" if due else ""),
                extra={"accounts": accounts, "due": due, "ms_per_due": seconds * 1000 / due if due else None},
            )
        )
    return figures


# --- latency through Redis and a real worker -------------------------------------------------------


def _worker(queue: str, database_url: str, redis_url: str) -> CeleryWorkerProcess:
    """A production-like worker: no DEBUG query log, JSON logs, warnings only."""
    REPORT_DIR.mkdir(exist_ok=True)
    loglevel = os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": queue,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-" + uuid.uuid4().hex,
        "LOG_LEVEL": loglevel,
    }
    return CeleryWorkerProcess(
        queue=queue,
        log_path=REPORT_DIR / "engine-worker.log",
        env=env,
        pool="prefork",
        concurrency=4,
        loglevel=loglevel,
        extra_args=["--without-heartbeat"],
    )


def _paced(count: int, rate: float, fn, *, threads: int = 1, budget: float | None = None) -> int:
    """Call ``fn(i)`` for i < count at ``rate`` per second from ``threads`` threads (each with its own
    database connection); stop early after ``budget`` seconds. Returns how many calls were made."""
    from django.db import connection

    lock = threading.Lock()
    state = {"next": 0, "start": time.perf_counter()}
    # each sender opens its database connection before the clock starts, as a long-running web process
    # has one: otherwise the senders' first calls wait for their connections and then go out in a burst
    ready = threading.Barrier(threads, action=lambda: state.update(start=time.perf_counter()))

    def loop() -> None:
        try:
            connection.ensure_connection()
            ready.wait()
            start = state["start"]
            while True:
                with lock:
                    i = state["next"]
                    if i >= count or (budget is not None and time.perf_counter() - start > budget):
                        return
                    state["next"] = i + 1
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                fn(i)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    if threads == 1:
        loop()
    else:
        workers = [threading.Thread(target=loop) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    return min(state["next"], count)


def _latency_figures(ctx: BenchContext, database_url: str) -> list[Figure]:
    from django.db import transaction
    from django.test import override_settings

    from accounts.models import Account, Contact
    from recommendations.models import Recommendation
    from recommendations.tasks import echo_task as echo
    from salesai import clock
    from salesai.celery import app
    from signals.models import Signal, Source
    from signals.storing import record_signal

    seconds = 5 if ctx.quick else 15
    count = RATE * seconds
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = _worker(queue, database_url, ctx.redis_url)
    try:
        ids = _bulk_accounts(0, LOW_RATE * 10 + count, prefix="lat")
        Contact.objects.bulk_create(
            [Contact(account_id=pk, email=f"buyer@lat{n}.example", name=f"Buyer {n}") for n, pk in enumerate(ids)],
            batch_size=5000,
        )
        contacts = dict(Contact.objects.filter(account_id__in=ids).values_list("account_id", "pk"))
        source = Source.objects.create(name="bench-web", kind="segment", write_key_hash=uuid.uuid4().hex)
        now = clock.now()
        Signal.objects.bulk_create(
            [
                Signal(
                    source=source,
                    account_id=pk,
                    contact_id=contacts[pk],
                    kind="page_view",
                    external_id=f"pre-{pk}-{k}",
                    occurred_at=now - dt.timedelta(hours=k + 1),
                    received_at=now,
                    analyzed_at=now,
                    properties={"path": "/pricing"},
                )
                for pk in ids
                for k in range(2)
            ],
            batch_size=5000,
        )
        worker.start(timeout=60)
        _log(f"worker up; empty-task round trips, then {count:,} signals at {RATE}/s …")
        for _ in range(20):
            echo.apply_async(queue=queue).get(timeout=10)  # warm
        empty: list[float] = []

        def round_trip(_: int) -> None:
            started = time.perf_counter()
            echo.apply_async(queue=queue).get(timeout=10)
            empty.append(time.perf_counter() - started)

        _paced(200, RATE, round_trip, budget=30)

        def phase(name: str, offset: int, n: int, rate: float) -> tuple[list[float], int, float]:
            """Send ``n`` third pricing visits at ``rate``/s; latencies of the recommendations they made."""
            phase_ids = ids[offset : offset + n]

            def ingest(i: int) -> None:
                pk = phase_ids[i]
                with transaction.atomic():
                    record_signal(
                        source=source,
                        kind="page_view",
                        external_id=f"{name}-{pk}",
                        occurred_at=clock.now(),
                        account=Account(pk=pk),
                        contact=Contact(pk=contacts[pk], account_id=pk),
                        properties={"path": "/pricing"},
                    )

            started = time.perf_counter()
            sent = _paced(n, rate, ingest, threads=4, budget=n / rate * 1.5)
            sent_for = time.perf_counter() - started
            recs = Recommendation.objects.filter(account_id__in=phase_ids, playbook="pricing_interest")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and recs.count() < sent:
                time.sleep(0.2)
            received = dict(
                Signal.objects.filter(source=source, external_id__startswith=f"{name}-").values_list(
                    "account_id", "received_at"
                )
            )
            created = dict(recs.values_list("account_id", "created_at"))
            first = min(received.values(), default=None)
            # (seconds after the phase's first signal, latency), in order of sending
            timed = sorted(
                ((received[a] - first).total_seconds(), (created[a] - received[a]).total_seconds())
                for a in received
                if a in created
            )
            _log(f"{name}: {len(received)} signals at {len(received) / sent_for:.0f}/s, {len(timed)} analysed")
            return timed, len(received) - len(timed), len(received) / sent_for

        # the senders stand in for production web processes: no DEBUG query log on their connections
        with override_settings(DEBUG=False):
            low_timed, low_missing, low_rate = phase("low", 0, LOW_RATE * 10, LOW_RATE)
            timed, missing, achieved = phase("load", LOW_RATE * 10, count, RATE)
    finally:
        worker.stop()
        app.conf.task_default_queue = previous_queue

    low_latencies = [latency for _, latency in low_timed]
    latencies = [latency for _, latency in timed]
    # the load starts as a step from 10/s to 100/s; the tail sits in the first second, while the
    # senders, the worker's processes and PostgreSQL's backends all wake at once on two cores
    steady = [latency for after, latency in timed if after >= STEP_SECONDS]
    ms = 1000.0
    common = {"bench": "engine", "unit": "ms", "higher_is_better": False}
    note = (
        f"{len(latencies) + missing:,} pricing visits sent at {achieved:.0f}/s (target {RATE}/s, 4 sender threads), "
        f"each the third in a week for its account → one new recommendation; worker: prefork, 4 processes; "
        f"{missing} not done within 30 s after the last send."
    )
    return [
        Figure(
            metric=f"signal → recommendation p50 at {LOW_RATE}/s",
            value=median(low_latencies) * ms,
            ceiling=median(empty) * ms,
            ceiling_label="empty task round trip p50, same broker and run",
            notes=f"{len(low_latencies)} signals at {low_rate:.0f}/s (worker not saturated); {low_missing} not done.",
            **common,
        ),
        Figure(
            metric=f"signal → recommendation p99 at {LOW_RATE}/s",
            value=percentile(low_latencies, 99) * ms,
            ceiling=percentile(empty, 99) * ms,
            ceiling_label="empty task round trip p99",
            **common,
        ),
        Figure(
            metric=f"signal → recommendation p50 at {RATE}/s",
            value=median(latencies) * ms,
            ceiling=median(empty) * ms,
            ceiling_label="empty task round trip p50, same broker and run",
            target="≤ 50 ms",
            notes=note,
            extra={"samples": len(latencies), "missing": missing},
            **common,
        ),
        Figure(
            metric=f"signal → recommendation p99 at {RATE}/s",
            value=percentile(latencies, 99) * ms,
            ceiling=percentile(empty, 99) * ms,
            ceiling_label="empty task round trip p99",
            target="≤ 250 ms",
            notes="Over the whole load, the step from 10/s to 100/s included.",
            **common,
        ),
        Figure(
            metric=f"signal → recommendation p99 at {RATE}/s after the first {STEP_SECONDS:.0f} s",
            value=percentile(steady, 99) * ms if steady else float("nan"),
            ceiling=percentile(empty, 99) * ms,
            ceiling_label="empty task round trip p99",
            notes=f"{len(steady):,} signals sent once the step to {RATE}/s has settled (the line above includes it).",
            **common,
        ),
    ]


def _worker_database_url(connection) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def run(ctx: BenchContext) -> list[Figure]:
    from django.db import connection

    on_postgres = connection.vendor == "postgresql"
    if on_postgres:
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"test_bench_engine_{os.getpid()}"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    figures: list[Figure] = []
    try:
        if on_postgres and ctx.redis_url:
            figures += _latency_figures(ctx, _worker_database_url(connection))
        else:
            _log("latency needs DATABASE_URL=postgres://… and REDIS_URL (a real worker shares the database): skipped")
        figures += _sweep_figures(ctx.quick)
    finally:
        connection.close()
        threading.Event().wait(0.1)
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return figures
