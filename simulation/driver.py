"""Drives salesai through its public paths with a generated world, and watches what it surfaces.

Choice: the driver sends every event with ``django.test.Client`` in-process, through the real URL
configuration, middleware, authentication and signature checks (HTTP Basic write keys for Segment
and inbound e-mail, Standard Webhooks signatures for ``/api/v1/signals``) — the same WSGI stack
gunicorn runs, without sockets, so 1,000 accounts × 60 days fit in minutes. Time moves with the one
clock: every delivery runs inside ``clock.as_of(deliver_at)``, and ``sweep --as-of`` runs every
simulated hour. Celery runs eagerly for the run, so analysis happens at simulated time.

On PostgreSQL the drive is split over processes (two by default), each delivering the events of its
own share of the accounts, in step: at every simulated hour all of them wait until each has delivered
everything before it, sweep together (``SKIP LOCKED`` shares the due accounts out), and wait again
before going on, so no account is analysed out of its time. Each account's events stay in one process,
in order; the morning inbox snapshots are taken by the first while the others wait.

Set-up data (reps, accounts, contacts, contracts, seat goals) is written through the ORM, as a CRM
import would; every *event* goes through a webhook. Simulation rows are marked (accounts'
``external_id`` starts with ``sim:``, sources' and reps' names with ``sim-``) and are removed before
the next run; :func:`run` refuses a database holding other accounts unless ``force=True``.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import multiprocessing
import queue
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client, override_settings
from standardwebhooks import Webhook
from tqdm import tqdm

from accounts.models import Account, AccountPicture, Contact, Contract, Goal
from recommendations.models import Evidence, Execution, Recommendation
from salesai import clock
from salesai.celery import app as celery_app
from signals.auth import create_source
from signals.models import Signal, Source
from simulation.baselines import mornings
from simulation.scoring import InboxSnapshot, Sighting
from simulation.world import Event, World

SIM_PREFIX = "sim-"
SIM_EXTERNAL_PREFIX = "sim:"
SEGMENT_BATCH = 100
BATCH_WINDOW = dt.timedelta(seconds=10)
SWEEP_EVERY = dt.timedelta(hours=1)
PART_POLL_SECONDS = 2.0


class RefusedDatabase(Exception):
    """The database holds accounts that are not the simulation's."""


@dataclass
class Observed:
    sightings: list[Sighting] = field(default_factory=list)
    snapshots: list[InboxSnapshot] = field(default_factory=list)
    requests: int = 0
    refused: list[str] = field(default_factory=list)
    sweeps: int = 0
    seconds: float = 0.0


@contextmanager
def eager_celery() -> Iterator[None]:
    """Tasks run at once, at simulated time; the e-mail they send (urgent notices to simulated reps)
    goes nowhere instead of to the configured server or the console."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


def clean(*, force: bool = False) -> None:
    """Remove a previous simulation's rows; refuse a database with other accounts unless forced."""
    others = Account.objects.exclude(external_id__startswith=SIM_EXTERNAL_PREFIX)
    if others.exists() and not force:
        raise RefusedDatabase(
            f"The database holds {others.count()} accounts that are not the simulation's. Point DATABASE_URL "
            "at a fresh database, or pass --force to run beside them (their recommendations will be analysed "
            "at simulated times too)."
        )
    sim_sources = Source.objects.filter(name__startswith=SIM_PREFIX)
    with transaction.atomic():
        Recommendation.objects.filter(account__external_id__startswith=SIM_EXTERNAL_PREFIX).delete()
        Signal.objects.filter(source__in=sim_sources).delete()
        Signal.objects.filter(account__external_id__startswith=SIM_EXTERNAL_PREFIX).delete()
        Account.objects.filter(external_id__startswith=SIM_EXTERNAL_PREFIX).delete()
        sim_sources.delete()
        get_user_model().objects.filter(username__startswith=SIM_PREFIX).delete()


@dataclass
class Credentials:
    segment_key: str
    generic_key: str
    generic_secret: str
    email_key: str


def set_up(world: World, *, create_rows: bool = True) -> Credentials:
    """Reps, accounts, people, contracts and seat goals (as a CRM import would), and three sources.
    With ``create_rows=False`` (existing accounts, e.g. the demo's) only the sources are created."""
    if create_rows:
        _create_rows(world)
    tag = f"{SIM_PREFIX}{world.seed}-{time.time_ns()}"
    _segment, segment_key = create_source(name=f"{tag}-segment", kind=Source.Kind.SEGMENT)
    generic, generic_key = create_source(name=f"{tag}-outreach", kind=Source.Kind.GENERIC)
    _email, email_key = create_source(name=f"{tag}-email", kind=Source.Kind.EMAIL)
    Source.objects.filter(name__startswith=tag).update(rate_limit_per_minute=1_000_000)  # outpace no limit
    return Credentials(segment_key, generic_key, generic.signing_secret, email_key)


def _create_rows(world: World) -> None:
    User = get_user_model()
    rep_group, _ = Group.objects.get_or_create(name="rep")
    users = {}
    for name in world.reps:
        user, created = User.objects.get_or_create(username=name, defaults={"email": f"{name}@salesai.example"})
        if created:
            user.groups.add(rep_group)
        users[name] = user
    with transaction.atomic():
        for a in world.accounts:
            account, _ = Account.objects.update_or_create(
                domain=a.domain,
                defaults={
                    "name": a.name,
                    "owner": users[a.rep],
                    "segment": a.segment,
                    "arr": Decimal(a.arr),
                    "seats": a.seats,
                    "external_id": f"{SIM_EXTERNAL_PREFIX}{world.seed}:{a.index}",
                },
            )
            AccountPicture.objects.get_or_create(account=account)
            Contact.objects.bulk_create(
                [Contact(account=account, email=c.email, name=c.name, title=c.title, seniority=c.seniority) for c in a.contacts],
                ignore_conflicts=True,
            )  # fmt: skip
            if a.renewal_date is not None:
                Contract.objects.update_or_create(
                    external_id=f"{SIM_EXTERNAL_PREFIX}{world.seed}:{a.index}",
                    defaults={"account": account, "value": Decimal(a.contract_value), "renewal_date": a.renewal_date,
                              "start_date": a.renewal_date - dt.timedelta(days=365)},
                )  # fmt: skip
            if a.customer:
                Goal.objects.get_or_create(
                    account=account, metric=Goal.Metric.SEAT_UTILIZATION,
                    defaults={"name": "Seat usage reaches 80%", "threshold": 0.8, "comparator": Goal.Comparator.GTE},
                )  # fmt: skip


def _allowed_host() -> str:
    """A host name the settings accept (the test client's default ``testserver`` usually is not)."""
    from django.conf import settings

    hosts = [h for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith(".")]
    return hosts[0] if hosts else "localhost"


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def segment_call(e: Event) -> dict:
    call = {"messageId": e.id, "timestamp": _iso(e.occurred_at), "userId": e.user_id}
    if e.kind == "identify":
        return {**call, "type": "identify", "traits": dict(e.properties)}
    if e.kind == "page_view":
        props = {k: v for k, v in e.properties.items() if k != "user_agent"}
        return {**call, "type": "page", "name": props.get("title", ""), "properties": props,
                "context": {"userAgent": e.properties.get("user_agent", "")}}  # fmt: skip
    return {**call, "type": "track", "event": e.name, "properties": dict(e.properties)}


def generic_item(e: Event) -> dict:
    return {"kind": e.kind, "id": e.id, "occurred_at": _iso(e.occurred_at), "contact_email": e.contact,
            "name": e.name or e.kind, "properties": dict(e.properties)}  # fmt: skip


def email_post(e: Event) -> dict:
    headers = {"Message-ID": f"<{e.id}>", "In-Reply-To": f"<{e.in_reply_to}>", "References": f"<{e.in_reply_to}>",
               "Date": e.occurred_at.strftime("%a, %d %b %Y %H:%M:%S +0000"), **e.headers}  # fmt: skip
    raw = "".join(f"{k}: {v}\n" for k, v in headers.items())
    return {"from": e.contact, "to": "sales@salesai.example", "subject": e.subject, "text": e.body, "headers": raw}


class Driver:
    """Delivers a world's events in order of delivery and records what salesai surfaced."""

    def __init__(self, world: World, credentials: Credentials, *, observe: bool = True, k: int = 10,
                 part: int = 0, parts: int = 1, sync: Callable[[], object] | None = None) -> None:  # fmt: skip
        """``part`` of ``parts``: this driver delivers the events of every ``parts``-th account only and
        calls ``sync`` (a barrier shared with the others) around each sweep and morning snapshot."""
        self.world = world
        self.part, self.parts = part, parts
        self._sync = sync or (lambda: None)
        self.creds = credentials
        self.client = Client(HTTP_HOST=_allowed_host())
        self.observe = observe
        self.k = k
        self.out = Observed()
        self._versions: dict[int, tuple[int, str]] = {}
        self._watermark = world.start - dt.timedelta(days=1)
        self._domains = frozenset(a.domain for i, a in enumerate(world.accounts) if i % parts == part)
        self._other_domains = frozenset(a.domain for a in world.accounts) - self._domains
        self._webhook = Webhook(credentials.generic_secret)
        self._reps = {u.username: u for u in get_user_model().objects.filter(username__in=world.reps)}

    # -- deliveries
    def _check(self, response, what: str) -> None:
        self.out.requests += 1
        if len(self.out.refused) >= 20:
            return
        if response.status_code >= 300:
            self.out.refused.append(f"{what}: {response.status_code} {response.content[:200]!r}")
        elif response.get("Content-Type", "").startswith("application/json"):
            errors = response.json().get("errors") or []
            self.out.refused += [
                f"{what}: item {e.get('index')}: {e.get('code')} {e.get('fields')}" for e in errors[:3]
            ]

    def send_segment(self, events: list[Event], at: dt.datetime) -> None:
        body = json.dumps({"batch": [segment_call(e) for e in events], "sentAt": _iso(at)})
        response = self.client.post("/v1/batch", body, content_type="application/json",
                                    HTTP_AUTHORIZATION=_basic(self.creds.segment_key))  # fmt: skip
        self._check(response, "segment")

    def send_signed(self, events: list[Event], at: dt.datetime) -> None:
        body = json.dumps([generic_item(e) for e in events])
        msg_id = f"msg_{events[0].id}_{len(events)}"[:150]
        now = dt.datetime.now(dt.UTC)  # the signature's timestamp is checked against real time
        signature = self._webhook.sign(msg_id, now, body)
        response = self.client.post("/api/v1/signals", body, content_type="application/json",
                                    HTTP_X_SOURCE_KEY=self.creds.generic_key, HTTP_WEBHOOK_ID=msg_id,
                                    HTTP_WEBHOOK_TIMESTAMP=str(int(now.timestamp())), HTTP_WEBHOOK_SIGNATURE=signature)  # fmt: skip
        self._check(response, "signed")

    def send_email(self, event: Event, at: dt.datetime) -> None:
        response = self.client.post(
            "/api/v1/inbound/email", email_post(event), HTTP_AUTHORIZATION=_basic(self.creds.email_key)
        )
        self._check(response, "email")

    def deliveries(self) -> Iterator[tuple[dt.datetime, str, list[Event]]]:
        """Events grouped as a client would send them: Segment calls batched (≤ 100 within 10 s),
        signed signals per instant, one e-mail per POST."""
        pending: list[Event] = []
        for e in self.world.events:
            if e.account in self._other_domains:  # another part's account
                continue
            if e.channel == "segment":
                if pending and (e.deliver_at - pending[0].deliver_at > BATCH_WINDOW or len(pending) >= SEGMENT_BATCH):
                    yield pending[-1].deliver_at, "segment", pending
                    pending = []
                pending.append(e)
                continue
            if pending:
                yield pending[-1].deliver_at, "segment", pending
                pending = []
            yield e.deliver_at, e.channel, [e]
        if pending:
            yield pending[-1].deliver_at, "segment", pending

    # -- time
    def ticks(self) -> Iterator[tuple[dt.datetime, str]]:
        t = self.world.start
        morning_set = set(mornings(self.world))
        while t < self.world.end:
            yield t, "sweep"
            if t in morning_set:
                yield t, "morning"
            t += SWEEP_EVERY

    def run(self, progress: bool = True, *, analyse_at_simulated_time: bool = True) -> Observed:
        """Deliver everything in order. With ``analyse_at_simulated_time=False`` (demo history) Celery is
        left as configured and no sweep runs: the webhooks store and queue analysis, and the worker
        analyses each account once (bursts coalesce) when it runs, at real time."""
        started = time.perf_counter()
        deliveries = list(self.deliveries())
        ticks = list(self.ticks()) if analyse_at_simulated_time else []
        # merge: ticks come before deliveries at the same instant
        steps = sorted([(at, 0, kind, None) for at, kind in ticks] + [(at, 1, ch, evs) for at, ch, evs in deliveries],
                       key=lambda s: (s[0], s[1]))  # fmt: skip
        desc = "simulating" if self.parts == 1 else f"simulating (part 1 of {self.parts})"
        bar = tqdm(steps, desc=desc, unit="step", file=sys.stderr, disable=None if progress else True)
        with eager_celery() if analyse_at_simulated_time else nullcontext():
            for at, _order, kind, events in bar:
                with clock.as_of(at):
                    if kind == "sweep":
                        self._sync()  # every part has delivered everything before `at`
                        call_command("sweep", as_of=_iso(at), stdout=io.StringIO())
                        self.out.sweeps += 1
                        self._sync()  # every sweep is done before anyone delivers at `at`
                    elif kind == "morning":
                        if self.part == 0:
                            self.snapshot(at)
                        self._sync()  # the inboxes are read before the hour goes on
                        continue
                    elif kind == "segment":
                        for start in range(0, len(events), SEGMENT_BATCH):
                            self.send_segment(events[start : start + SEGMENT_BATCH], at)
                    elif kind == "signed":
                        self.send_signed(events, at)
                    else:
                        self.send_email(events[0], at)
                    if self.observe:
                        self.look(at)
        self.out.seconds = time.perf_counter() - started
        return self.out

    # -- watching
    def look(self, at: dt.datetime) -> None:
        """Record every recommendation that changed since the last look (its status and evidence)."""
        # by updated_at alone (its index), then this world's accounts in Python: a join filter on the
        # accounts made PostgreSQL probe every account's recommendations on every look
        changed = [
            r
            for r in Recommendation.objects.filter(updated_at__gte=self._watermark)
            .select_related("account", "account__owner")
            .only("id", "status", "version", "action_type", "priority", "updated_at", "account__domain", "account__owner__username")
            if r.account.domain in self._domains
        ]  # fmt: skip
        self._watermark = at
        fresh = [r for r in changed if self._versions.get(r.pk) != (r.version, r.status)]
        if not fresh:
            return
        ids = [r.pk for r in fresh]
        evidence: dict[int, set[str]] = {}
        facts: dict[int, set[str]] = {}
        for rec_id, external_id, fact_type in Evidence.objects.filter(recommendation_id__in=ids).values_list(
            "recommendation_id", "signal__external_id", "fact_type"
        ):
            if external_id:
                evidence.setdefault(rec_id, set()).add(external_id.strip("<>"))
            if fact_type:
                facts.setdefault(rec_id, set()).add(fact_type)
        autonomous = set(
            Execution.objects.filter(recommendation_id__in=ids, autonomous=True).values_list(
                "recommendation_id", flat=True
            )
        )
        for r in fresh:
            self._versions[r.pk] = (r.version, r.status)
            self.out.sightings.append(
                Sighting(rec_id=str(r.pk), account=r.account.domain, rep=r.account.owner.username if r.account.owner else "",
                         action_type=r.action_type, status=r.status, at=min(r.updated_at, at) if r.updated_at else at,
                         evidence=frozenset(evidence.get(r.pk, ())), facts=frozenset(facts.get(r.pk, ())),
                         autonomous=r.pk in autonomous, priority=r.priority)
            )  # fmt: skip

    def snapshot(self, at: dt.datetime) -> None:
        """Each rep's inbox this morning, read through the one scoping selector, in inbox order."""
        from recommendations.selectors import recommendations_for

        for name in self.world.reps:
            user = self._reps.get(name)
            rows = []
            if user is not None:
                rows = list(
                    recommendations_for(user=user)
                    .filter(status=Recommendation.Status.PENDING)
                    .order_by("-priority", "-created_at")
                    .values_list("id", "account__domain", "action_type")[: self.k]
                )
            self.out.snapshots.append(InboxSnapshot(rep=name, at=at, items=tuple((str(i), d, t) for i, d, t in rows)))


def default_processes() -> int:
    """Two driver processes on PostgreSQL with two or more cores, else one (SQLite takes one writer)."""
    return 2 if connection.vendor == "postgresql" and (multiprocessing.cpu_count() or 1) >= 2 else 1


class PartFailed(RuntimeError):
    """A driver process failed; the message holds its traceback."""


def _drive_part(world: World, credentials: Credentials, part: int, parts: int, k: int, progress: bool,
                barrier, results) -> None:  # fmt: skip
    """One forked driver process: deliver its share, send back what it observed (or its traceback)."""
    try:
        driver = Driver(world, credentials, k=k, part=part, parts=parts, sync=barrier.wait)
        results.put((part, driver.run(progress=progress and part == 0), None))
    except BaseException:
        barrier.abort()  # the others stop waiting for this one
        results.put((part, None, traceback.format_exc()))
    finally:
        connections.close_all()


def drive_in_parts(world: World, credentials: Credentials, *, parts: int, k: int = 10,
                   progress: bool = True) -> Observed:  # fmt: skip
    """Drive one world with ``parts`` forked processes in step (see the module docstring) and merge
    what they observed. A process that fails or dies breaks the others' barrier; the error is raised."""
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(parts), context.Queue()
    connections.close_all()  # each process opens its own
    processes = [
        context.Process(target=_drive_part, args=(world, credentials, part, parts, k, progress, barrier, results),
                        name=f"simulation-part-{part}", daemon=True)
        for part in range(parts)
    ]  # fmt: skip
    for process in processes:
        process.start()
    observed: dict[int, Observed] = {}
    failures: list[str] = []
    while len(observed) + len(failures) < parts:
        try:
            part, out, error = results.get(timeout=PART_POLL_SECONDS)
        except queue.Empty:
            dead = [p for p in processes if p.exitcode not in (None, 0)]
            if dead and results.empty():
                barrier.abort()
                failures += [f"{p.name} exited with code {p.exitcode}" for p in dead]
                break
            continue
        if error:
            failures.append(error)
        else:
            observed[part] = out
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
    if failures:
        # a broken barrier in the others is only the echo of the first failure
        failures.sort(key=lambda f: "BrokenBarrierError" in f)
        raise PartFailed(failures[0])
    merged = Observed(snapshots=observed[0].snapshots, sweeps=observed[0].sweeps)
    for part in sorted(observed):
        merged.sightings += observed[part].sightings
        merged.requests += observed[part].requests
        merged.refused += observed[part].refused
    merged.seconds = time.perf_counter() - started
    return merged


def drive(world: World, *, force: bool = False, progress: bool = True, k: int = 10, processes: int | None = None,
          on_ready: Callable[[], None] | None = None) -> Observed:  # fmt: skip
    """Clean, set up and drive one world; return what was observed. ``processes`` (default: see
    :func:`default_processes`) above one splits the drive over forked processes in step."""
    clean(force=force)
    credentials = set_up(world)
    if on_ready:
        on_ready()
    parts = processes or default_processes()
    if parts > 1:
        return drive_in_parts(world, credentials, parts=parts, k=k, progress=progress)
    return Driver(world, credentials, k=k).run(progress=progress)
