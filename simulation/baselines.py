"""The two baselines salesai must beat, computed from the same world and scored by the same scorer.

- **Reactive**: nothing surfaces until the rep asks. Every morning at 9:00 the rep opens a dashboard
  of the accounts with activity in the last 24 hours (most active first). Generously, the rep then
  recognises every open moment of those accounts and the right action for it; an active account with
  no open moment costs a look for nothing (a false alarm). Moments on quiet accounts (follow-ups due,
  renewals, accounts going dark) are never noticed.
- **Naive alerting**: one alert per pricing-page view as it is delivered (bots and duplicate
  deliveries included, as a plain webhook-to-Slack rule would), proposing pricing outreach. An alert
  stays in the feed for 24 hours.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from simulation.market import World
from simulation.scoring import InboxSnapshot, Sighting

CHECK_HOUR = 9
QUIET_KINDS = frozenset({"identify", "email_sent"})  # the rep's own sends and set-up are not activity


def mornings(world: World, hour: int = CHECK_HOUR) -> list[dt.datetime]:
    """The simulated mornings at which inboxes are looked at (one per day of the world)."""
    base = world.start.replace(hour=hour, minute=0, second=0, microsecond=0)
    return [base + dt.timedelta(days=d) for d in range(world.days)]


def reactive(world: World, *, k: int = 10) -> tuple[list[Sighting], list[InboxSnapshot]]:
    owner = {a.domain: a.rep for a in world.accounts}
    by_account: dict[str, list] = defaultdict(list)
    for m in world.moments:
        by_account[m.account].append(m)
    delivered = sorted((e for e in world.events if e.kind not in QUIET_KINDS), key=lambda e: e.deliver_at)
    sightings: list[Sighting] = []
    snapshots: list[InboxSnapshot] = []
    cursor = 0
    for check in mornings(world):
        activity: Counter[str] = Counter()
        seen_ids: dict[str, set[str]] = defaultdict(set)
        while cursor < len(delivered) and delivered[cursor].deliver_at <= check:
            event = delivered[cursor]
            if event.deliver_at > check - dt.timedelta(days=1):
                activity[event.account] += 1
                seen_ids[event.account].add(event.id)
            cursor += 1
        items: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for account, _count in activity.most_common():
            rep = owner.get(account, "")
            open_moments = [m for m in by_account.get(account, ()) if m.opens_at <= check <= m.closes_at]
            for m in open_moments or [None]:
                rec_id = f"reactive:{m.id}" if m else f"reactive:{account}:{check:%Y%m%d}"
                action = m.acceptable[0] if m else "check_in"
                common = {"rec_id": rec_id, "account": account, "rep": rep, "action_type": action}
                sightings.append(
                    Sighting(
                        **common,
                        status="pending",
                        at=check,
                        evidence=frozenset(seen_ids[account]),
                        facts=frozenset(m.facts) if m else frozenset(),
                    )  # fmt: skip
                )
                sightings.append(Sighting(**common, status="withdrawn", at=check + dt.timedelta(days=1)))
                items[rep].append((rec_id, account, action))
        for rep in world.reps:
            snapshots.append(InboxSnapshot(rep=rep, at=check, items=tuple(items.get(rep, ())[:k])))
    return _dedupe_reopened(sightings), snapshots


def _dedupe_reopened(sightings: list[Sighting]) -> list[Sighting]:
    """A moment noticed on several mornings stays one recommendation: drop the withdrawal between two
    consecutive notices so it counts as one episode, not one per day."""
    by_key: dict[tuple[str, dt.datetime], Sighting] = {(s.rec_id, s.at): s for s in sightings}
    kept = []
    for s in sightings:
        if s.status == "withdrawn" and (s.rec_id, s.at) in by_key and by_key[(s.rec_id, s.at)].status == "pending":
            continue
        kept.append(s)
    return kept


def naive(world: World, *, k: int = 10) -> tuple[list[Sighting], list[InboxSnapshot]]:
    owner = {a.domain: a.rep for a in world.accounts}
    sightings: list[Sighting] = []
    alerts: list[tuple[dt.datetime, str, str, str]] = []
    for n, event in enumerate(e for e in world.events if e.is_pricing_view):
        rec_id = f"naive:{n}"
        rep = owner.get(event.account, "")
        common = {"rec_id": rec_id, "account": event.account, "rep": rep, "action_type": "pricing_outreach"}
        sightings.append(Sighting(**common, status="pending", at=event.deliver_at, evidence=frozenset({event.id})))
        sightings.append(Sighting(**common, status="expired", at=event.deliver_at + dt.timedelta(days=1)))
        alerts.append((event.deliver_at, rep, rec_id, event.account))
    snapshots = []
    for check in mornings(world):
        recent = sorted((a for a in alerts if check - dt.timedelta(days=1) < a[0] <= check), reverse=True)
        per_rep: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for _at, rep, rec_id, account in recent:
            per_rep[rep].append((rec_id, account, "pricing_outreach"))
        for rep in world.reps:
            snapshots.append(InboxSnapshot(rep=rep, at=check, items=tuple(per_rep.get(rep, ())[:k])))
    return sightings, snapshots
