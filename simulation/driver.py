"""Drives salesai through its public paths with a generated world, and watches what it surfaces.

Choice: the driver sends every event with ``django.test.Client`` in-process, through the real URL
configuration, middleware, authentication and signature checks (HTTP Basic write keys for Segment
and inbound e-mail, Standard Webhooks signatures for ``/api/v1/signals``) — the same WSGI stack
gunicorn runs, without sockets (``make bench`` times a world of fixed size). Time moves with the one
clock: every delivery runs inside ``clock.as_of(deliver_at)``, and ``sweep --as-of`` runs every
simulated hour. Celery runs eagerly for the run, so analysis happens at simulated time.

Simulated reps review (``reviews=True``, the scored run): every morning, after the inbox snapshot,
each rep works through the first ``k`` of their inbox through the REST API with their token, approving
what the hidden truth says is worth doing (an open moment of a fitting kind) and rejecting the rest; their decisions build
the trust model's track record, as real reviews do. What salesai sends (approved, or on its own once
trusted) reaches the market: :func:`simulation.story.react_to_email` answers it from the account's
hidden state, and the answer (a reply through the inbound webhook, or silence that makes a follow-up
due) joins the world. Autonomous actions run when the beat's due-actions task runs, each simulated hour.

Rows are set up and cleaned by :mod:`simulation.stage`; :mod:`simulation.run` drives one world with
one or several of these drivers in step.
"""

from __future__ import annotations

import datetime as dt
import heapq
import io
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token
from standardwebhooks import Webhook
from tqdm import tqdm

from recommendations.models import Evidence, Execution, Recommendation
from recommendations.selectors import INBOX_ORDER, recommendations_for
from recommendations.tasks import execute_due_actions_task
from salesai import clock
from salesai.celery import app as celery_app
from simulation import learning
from simulation.baselines import mornings
from simulation.market import ACCEPTABLE, SEQUENCE_TOUCHES, Event, Moment, World
from simulation.payloads import allowed_host, basic_auth, email_post, generic_item, iso, segment_call
from simulation.scoring import InboxSnapshot, Sighting
from simulation.stage import Credentials
from simulation.story import react_to_email

SEGMENT_BATCH = 100
BATCH_WINDOW = dt.timedelta(seconds=10)
SWEEP_EVERY = dt.timedelta(hours=1)
FOLLOW_UP_KINDS = ("follow_up_due", "sequence_exhausted")
#: How long the end of a sequence stays a moment (as the world's own, :mod:`simulation.story`).
SEQUENCE_EXHAUSTED_OPEN = dt.timedelta(days=7)


@dataclass
class Observed:
    sightings: list[Sighting] = field(default_factory=list)
    snapshots: list[InboxSnapshot] = field(default_factory=list)
    requests: int = 0
    refused: list[str] = field(default_factory=list)
    sweeps: int = 0
    seconds: float = 0.0
    reviews: dict[str, int] = field(default_factory=lambda: {"approved": 0, "rejected": 0})
    moments: list[Moment] = field(default_factory=list)  # the market's answers to what salesai sent
    ended: dict[str, Moment | None] = field(default_factory=dict)  # world moments an answer ended (None: dropped)


def ended_at(moment: Moment, at: dt.datetime | None) -> Moment | None:
    """A follow-up whose person answered (or was e-mailed again) at ``at``: as it was if that came once it
    had closed (or never), never needed if before it opened, else ended then. At its very opening it
    still counts as met (the follow-up itself went out then)."""
    if at is None or at >= moment.closes_at:
        return moment
    return None if at < moment.opens_at else replace(moment, closes_at=at)


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


class Driver:
    """Delivers a world's events in order of delivery and records what salesai surfaced."""

    def __init__(self, world: World, credentials: Credentials, *, observe: bool = True, k: int = 10,
                 part: int = 0, parts: int = 1, sync: Callable[[], object] | None = None,
                 reviews: bool = False) -> None:  # fmt: skip
        """``part`` of ``parts``: this driver delivers the events of every ``parts``-th account only and
        calls ``sync`` (a barrier shared with the others) around each sweep and morning snapshot. With
        ``reviews`` the reps review their inbox each morning and the market answers what is sent."""
        self.world = world
        self.reviews = reviews and observe
        self._tokens = dict(Token.objects.filter(user__username__in=world.reps).values_list("user__username", "key"))
        self._accounts = {a.domain: a for a in world.accounts}
        self._moments: dict[str, list[Moment]] = {}
        for m in world.moments:
            self._moments.setdefault(m.account, []).append(m)
        self._reacted: set[int] = set()
        # per person: when e-mails went to them and when they answered (a reply or a meeting), the world's
        # and then salesai's: a touch is counted as salesai counts it, e-mails since their last answer
        self._sent_to: dict[str, list[dt.datetime]] = {}
        self._answered: dict[str, list[dt.datetime]] = {}
        sent_by_id: dict[str, str] = {}
        self._sent_at: dict[str, dt.datetime] = {}  # the world's e-mails: id → when the rep sends it
        for e in world.events:
            if e.duplicate or not e.contact:
                continue
            if e.kind == "email_sent":
                sent_by_id[e.id] = e.contact
                self._sent_at[e.id] = e.occurred_at
                self._sent_to.setdefault(e.contact, []).append(e.occurred_at)
            elif e.kind == "meeting_booked" or (e.kind == "email_reply" and e.intent != "auto_reply"):
                self._answered.setdefault(e.contact, []).append(e.occurred_at)
        # follow-ups due per person (the world's and those of salesai's own e-mails): an answer ends them
        self._follow_ups: dict[str, set[str]] = {}
        for m in world.moments:
            if m.kind in FOLLOW_UP_KINDS and m.deciding and m.deciding[0] in sent_by_id:
                self._follow_ups.setdefault(sent_by_id[m.deciding[0]], set()).add(m.id)
        self._reaction_moments: dict[str, Moment] = {}  # id → the market's answers (as they stand now)
        self._arrivals: list[tuple] = []  # heap: the market's answers, delivered in time order
        self._arrival_order = itertools.count()
        self.part, self.parts = part, parts
        self._sync = sync or (lambda: None)
        self.creds = credentials
        self.client = Client(HTTP_HOST=allowed_host())
        self.observe = observe
        self.k = k
        self.out = Observed()
        self._end_world_follow_ups_at_answers(sent_by_id)
        self._versions: dict[int, tuple[int, str]] = {}
        self._watermark = world.start - dt.timedelta(days=1)
        self._domains = frozenset(a.domain for i, a in enumerate(world.accounts) if i % parts == part)
        self._other_domains = frozenset(a.domain for a in world.accounts) - self._domains
        self._webhook = Webhook(credentials.generic_secret)
        self._reps = {u.username: u for u in get_user_model().objects.filter(username__in=world.reps)}

    def _end_world_follow_ups_at_answers(self, sent_by_id: dict[str, str]) -> None:
        """The world wrote each follow-up due of its rep's e-mails without looking ahead: one the person
        answers before it closes (a reply to another e-mail, a meeting booked) is needed only until then,
        and never if they answered before it opened, as with salesai's own e-mails (:meth:`react`)."""
        for domain, moments in self._moments.items():
            kept: list[Moment] = []
            for m in moments:
                contact = sent_by_id.get(m.deciding[0]) if m.kind in FOLLOW_UP_KINDS and m.deciding else None
                if contact is None:
                    kept.append(m)
                    continue
                sent = self._sent_at[m.deciding[0]]  # written beside sent_by_id
                ended = ended_at(m, min((t for t in self._answered.get(contact, ()) if t > sent), default=None))
                if ended is not m:
                    self.out.ended[m.id] = ended
                if ended is not None:
                    kept.append(ended)
            self._moments[domain] = kept

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
        body = json.dumps({"batch": [segment_call(e) for e in events], "sentAt": iso(at)})
        response = self.client.post("/v1/batch", body, content_type="application/json",
                                    HTTP_AUTHORIZATION=basic_auth(self.creds.segment_key))  # fmt: skip
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

    def send_crm(self, event: Event, at: dt.datetime) -> None:
        """A CRM sync (a deal's stage or close date moved, a person left) through the CRM API."""
        response = self.client.post("/api/v1/crm/accounts", json.dumps([event.properties]),
                                    content_type="application/json", HTTP_AUTHORIZATION=f"Token {self.creds.crm_token}")  # fmt: skip
        self._check(response, "crm")

    def send_email(self, event: Event, at: dt.datetime) -> None:
        response = self.client.post(
            "/api/v1/inbound/email", email_post(event), HTTP_AUTHORIZATION=basic_auth(self.creds.email_key)
        )
        self._check(response, "email")

    def deliveries(self) -> Iterator[tuple[dt.datetime, str, list[Event]]]:
        """Events grouped as a client would send them: Segment calls batched (≤ 100 within 10 s),
        signed signals of one account at one instant together (a meeting's attendees: one calendar
        sync), one e-mail or CRM sync per POST."""
        pending: list[Event] = []
        for e in self.world.events:
            if e.account in self._other_domains:  # another part's account
                continue
            if e.channel == "segment":
                if pending and pending[0].channel != "segment":
                    yield pending[-1].deliver_at, pending[0].channel, pending
                    pending = []
                if pending and (e.deliver_at - pending[0].deliver_at > BATCH_WINDOW or len(pending) >= SEGMENT_BATCH):
                    yield pending[-1].deliver_at, "segment", pending
                    pending = []
                pending.append(e)
                continue
            together = (
                e.channel == "signed"
                and pending
                and pending[0].channel == "signed"
                and (pending[0].deliver_at, pending[0].account) == (e.deliver_at, e.account)
            )
            if together:
                pending.append(e)
                continue
            if pending:
                yield pending[-1].deliver_at, pending[0].channel, pending
                pending = []
            if e.channel == "signed":
                pending = [e]
                continue
            yield e.deliver_at, e.channel, [e]
        if pending:
            yield pending[-1].deliver_at, pending[0].channel, pending

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
        bar = tqdm(total=len(steps), desc=desc, unit="step", file=sys.stderr, disable=None if progress else True)
        index = 0
        with eager_celery() if analyse_at_simulated_time else nullcontext():
            while index < len(steps) or self._arrivals:
                # the market's answers to what salesai sent join the stream at their own time
                if self._arrivals and (index >= len(steps) or self._arrivals[0][:2] < steps[index][:2]):
                    at, _order, _seq, kind, events = heapq.heappop(self._arrivals)
                else:
                    at, _order, kind, events = steps[index]
                    index += 1
                    bar.update()
                with clock.as_of(at):
                    if kind == "sweep":
                        self._sync()  # every part has delivered everything before `at`
                        call_command("sweep", as_of=iso(at), stdout=io.StringIO())
                        if self.reviews and self.part == 0:  # the beat's due actions: autonomous sends
                            execute_due_actions_task.apply()
                        self.out.sweeps += 1
                        self._sync()  # every sweep is done before anyone delivers at `at`
                    elif kind == "morning":
                        # read by every part that needs them before anyone acts on them
                        inboxes = self.inboxes() if self.part == 0 or self.reviews else {}
                        if self.part == 0:
                            self.snapshot(at, inboxes)
                        self._sync()  # the inboxes are read before the hour goes on
                        if self.reviews:
                            self.review(at, inboxes)
                            self.look(at)
                            learning.after_reviews(part=self.part, at=at, sync=self._sync)
                        continue
                    elif kind == "segment":
                        for start in range(0, len(events), SEGMENT_BATCH):
                            self.send_segment(events[start : start + SEGMENT_BATCH], at)
                    elif kind == "signed":
                        self.send_signed(events, at)
                    elif kind == "crm":
                        self.send_crm(events[0], at)
                    else:
                        self.send_email(events[0], at)
                    if self.observe:
                        self.look(at)
        bar.close()
        self.out.moments = list(self._reaction_moments.values())
        self.out.seconds = time.perf_counter() - started
        return self.out

    # -- the reps and the market
    def fitting_moment(self, account: str, action_type: str, at: dt.datetime) -> Moment | None:
        """An open moment of this account that this kind of action answers, by the hidden truth."""
        return next(
            (m for m in self._moments.get(account, ()) if action_type in ACCEPTABLE[m.kind] and m.opens_at <= at <= m.closes_at),
            None,
        )  # fmt: skip

    def review(self, at: dt.datetime, inboxes: dict[str, list[tuple[int, str, str, int, str]]]) -> None:
        """The reps work through the first ``k`` of their inbox (what a rep gets through in a morning)
        through the API, each part those of its own accounts: approve what fits an open moment by the
        hidden truth, reject the rest (gone by: "already handled"; never was: "not relevant"). The rest
        waits for another morning, as in a real inbox."""
        todo = [(pk, domain, action_type, version, rep, seniority) for rep, rows in inboxes.items()
                for pk, domain, action_type, version, seniority in rows if domain in self._domains and rep in self._tokens]  # fmt: skip
        for pk, domain, action_type, version, rep, seniority in todo:
            token = self._tokens[rep]
            auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
            taste = learning.preference(self.world, rep=rep, action_type=action_type, seniority=seniority or "", at=at)
            if self.fitting_moment(domain, action_type, at) and taste is None:
                response = self.client.post(
                    f"/api/v1/recommendations/{pk}/approve", {"version": version}, content_type="application/json",
                    **auth,
                )  # fmt: skip
                decision = "approved"
            else:
                earlier = any(
                    action_type in ACCEPTABLE[m.kind] and m.opens_at <= at for m in self._moments.get(domain, ())
                )
                reason = taste or ("already_handled" if earlier else "not_relevant")
                response = self.client.post(f"/api/v1/recommendations/{pk}/reject", {"reason": reason},
                                            content_type="application/json", **auth)  # fmt: skip
                decision = "rejected"
            if response.status_code == 409:  # decided already, or changed since the rep read it: another morning
                continue
            self._check(response, f"review {decision}")
            if response.status_code == 200:
                self.out.reviews[decision] += 1

    def react(self, rec: Recommendation, message_id: str, at: dt.datetime) -> None:
        """The market answers an e-mail salesai sent: a reply joins the stream, silence makes a moment."""
        account = self._accounts.get(rec.account.domain)
        if account is None or rec.contact is None or not message_id:
            return
        contact = rec.contact.email
        self.follow_ups_end(rec.account.domain, contact, at)  # e-mailed again: that is the follow-up
        self._sent_to.setdefault(contact, []).append(at)
        self.sequences_exhausted(rec.account.domain, contact)
        touch = self.touches(contact, at)
        events, moments = react_to_email(self.world, account, contact_email=contact, message_id=message_id,
                                         subject=rec.draft_subject, body=rec.draft_body, sent_at=at, touch=touch,
                                         action=rec.action_type)  # fmt: skip
        for moment in moments:
            if moment.kind in FOLLOW_UP_KINDS:  # an answer already known (the world's) ends it
                moment = ended_at(moment, min((t for t in self._answered.get(contact, ()) if t > at), default=None))
                if moment is None:
                    continue
                self._follow_ups.setdefault(contact, set()).add(moment.id)
            if moment.at < self.world.end:
                self._reaction_moments[moment.id] = moment
                self._moments.setdefault(moment.account, []).append(moment)
        for event in events:
            if event.deliver_at < self.world.end:
                if event.intent != "auto_reply":
                    self._answered.setdefault(contact, []).append(event.occurred_at)
                    self.follow_ups_end(rec.account.domain, contact, event.occurred_at)
                heapq.heappush(self._arrivals, (event.deliver_at, 1, next(self._arrival_order), event.channel, [event]))

    def touches(self, contact: str, at: dt.datetime) -> int:
        """E-mails the person had received by ``at`` since they last answered (the world's and salesai's)."""
        last_answer = max((t for t in self._answered.get(contact, ()) if t <= at), default=None)
        return sum(1 for t in self._sent_to.get(contact, ()) if t <= at and (last_answer is None or t > last_answer))

    def sequences_exhausted(self, domain: str, contact: str) -> None:
        """One market, one rule: as the answer to salesai's own e-mail counts every e-mail the person got
        (:func:`simulation.story.react_to_email`), a later e-mail of the world's rep that is the
        person's third unanswered one ends the sequence (another contact is the next step), not a
        follow-up due. The world wrote its rep's sequence before salesai e-mailed anyone."""
        ids = self._follow_ups.get(contact, set())
        changed: list[Moment] = []
        for moment in self._moments.get(domain, ()):
            sent = self._sent_at.get(moment.deciding[0]) if moment.deciding else None
            if (moment.id in ids and moment.kind == "follow_up_due" and moment.id not in self._reaction_moments
                    and sent is not None and self.touches(contact, sent) >= SEQUENCE_TOUCHES):  # fmt: skip
                moment = replace(moment, kind="sequence_exhausted", closes_at=moment.opens_at + SEQUENCE_EXHAUSTED_OPEN)
                self.out.ended[moment.id] = moment
            changed.append(moment)
        self._moments[domain] = changed

    def follow_ups_end(self, domain: str, contact: str, at: dt.datetime) -> None:
        """The person answered, or was e-mailed again, at ``at``: a follow-up of theirs not yet due is
        never needed, an open one ends (as the world's own sequences end theirs at the next touch).

        Only the follow-ups of e-mails sent by ``at``: the world's rep still sends the later touches of
        their sequence (the world's events are written beforehand), and each of those is unanswered
        outreach whose follow-up, or whose end of the sequence, a rep needs as much as before."""
        ids = self._follow_ups.get(contact, set())
        kept: list[Moment] = []
        for moment in self._moments.get(domain, ()):
            later = bool(moment.deciding) and self._sent_at.get(moment.deciding[0], at) > at
            ended = ended_at(moment, at) if moment.id in ids and not later else moment
            if ended is not moment:
                if moment.id not in self._reaction_moments:
                    self.out.ended[moment.id] = ended  # one of the world's
                elif ended is None:
                    del self._reaction_moments[moment.id]
                else:
                    self._reaction_moments[moment.id] = ended
            if ended is not None:
                kept.append(ended)
        self._moments[domain] = kept

    # -- watching
    def look(self, at: dt.datetime) -> None:
        """Record every recommendation that changed since the last look (its status and evidence)."""
        # by updated_at alone (its index), then this world's accounts in Python: a join filter on the
        # accounts made PostgreSQL probe every account's recommendations on every look
        changed = [
            r
            for r in Recommendation.objects.filter(updated_at__gte=self._watermark)
            .order_by("updated_at", "pk")  # the market answers in this order: the same every run
            .select_related("account", "account__owner", "contact")
            .only("id", "status", "version", "action_type", "priority", "updated_at", "account__domain",
                  "account__owner__username", "contact__email", "draft_subject", "draft_body")
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
        executions = {
            rec_id: (is_autonomous, message_id if (result or {}).get("kind") == "email" else "")
            for rec_id, is_autonomous, message_id, result in Execution.objects.filter(
                recommendation_id__in=ids, status=Execution.Status.SUCCEEDED
            ).values_list("recommendation_id", "autonomous", "message_id", "result")
        }  # only an e-mail to the person reaches the market (not a notice to the rep or the managers)
        autonomous = {rec_id for rec_id, (is_autonomous, _) in executions.items() if is_autonomous}
        for r in fresh:
            self._versions[r.pk] = (r.version, r.status)
            self.out.sightings.append(
                Sighting(rec_id=str(r.pk), account=r.account.domain, rep=r.account.owner.username if r.account.owner else "",
                         action_type=r.action_type, status=r.status, at=min(r.updated_at, at) if r.updated_at else at,
                         evidence=frozenset(evidence.get(r.pk, ())), facts=frozenset(facts.get(r.pk, ())),
                         autonomous=r.pk in autonomous, priority=r.priority)
            )  # fmt: skip
            if self.reviews and r.status == Recommendation.Status.EXECUTED and r.pk not in self._reacted:
                self._reacted.add(r.pk)
                self.react(r, executions.get(r.pk, (False, ""))[1], min(r.updated_at, at) if r.updated_at else at)

    def inboxes(self) -> dict[str, list[tuple[int, str, str, int, str]]]:
        """The first ``k`` of each rep's inbox, read through the one scoping selector, in inbox order:
        rep → (id, account, action type, the version the rep sees, which approving carries, the
        contact's seniority)."""
        return {
            name: list(
                recommendations_for(user=user)
                .filter(status=Recommendation.Status.PENDING)
                .order_by(*INBOX_ORDER)
                .values_list("id", "account__domain", "action_type", "version", "contact__seniority")[: self.k]
            )
            for name, user in self._reps.items()
        }

    def snapshot(self, at: dt.datetime, inboxes: dict[str, list[tuple[int, str, str, int, str]]]) -> None:
        """Each rep's inbox this morning."""
        for name in self.world.reps:
            rows = inboxes.get(name, [])
            self.out.snapshots.append(
                InboxSnapshot(rep=name, at=at, items=tuple((str(i), d, t) for i, d, t, *_ in rows))
            )
