"""What the learning needs from the simulated world, and how it is scored (issue 15).

- **Hidden fit**: some accounts buy, most do not. Each account gets a product plan and a hidden fit
  drawn from its segment, plan and whether it is a customer (its own random stream, so the rest of
  the world is the same with or without it). Two thirds of the accounts bring one closed deal from
  before the world starts (won when they fit, with some noise), as a CRM import would; the other
  third is held out: ``fit_auc`` scores salesai's fit on them against the hidden truth.
- **Reps with preferences**: in the first half one rep rejects pricing outreach to directors as the
  wrong contact; halfway through (the **drift**) that rep stops minding and another one starts.
- The learning retrains every simulated morning after the reviews (as the hourly beat would), and
  the simulated manager accepts the threshold proposals it makes (each through the admin's service,
  audited); the playbook settings the run started with are restored afterwards.

Scores, read before the world is cleaned: ``brier`` of the confidence the reps saw against whether
they approved, ``brier_base_rate`` (a constant at the approval rate), ``precision_at_10_by_week``,
``fit_auc`` and ``threshold_changes_proposed``, and a reliability diagram as inline SVG.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from sklearn.metrics import roc_auc_score

from accounts.models import Account, Opportunity
from recommendations.learning import calibration, store, thresholds, training
from recommendations.learning.models import LearnedModel, RecommendationOutcome, ThresholdProposal
from recommendations.models import PlaybookConfig
from simulation.deals_rows import MANAGER
from simulation.market import SimAccount, World
from simulation.scoring import InboxSnapshot, score
from simulation.stage import SIM_EXTERNAL_PREFIX

PLANS = ("starter", "growth", "scale")
LABEL_NOISE = 0.1
HELD_OUT_EVERY = 3  # every third account has no closed deal: fit is scored on those
PREFERENCE_REASON = "wrong_contact"
MISS_ITEMS_PER_WEEK = 30


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def hidden_fit(world: World) -> dict[str, tuple[str, bool]]:
    """domain → (plan, whether the account fits), from the world's seed alone."""
    rng = random.Random(f"fit-{world.seed}")
    result = {}
    for a in world.accounts:
        plan = rng.choice(PLANS)
        logit = (-2.0 + 2.8 * (a.segment == "mid_market") + 1.2 * (a.segment == "enterprise")
                 + 1.8 * (plan == "growth") - 1.2 * (plan == "starter") + 0.8 * a.customer)  # fmt: skip
        result[a.domain] = (plan, rng.random() < _sigmoid(2 * logit))
    return result


def held_out(account: SimAccount) -> bool:
    return account.index % HELD_OUT_EVERY == 0


def set_up_deals(world: World) -> None:
    """Plans and one closed deal before the start for the accounts not held out (as a CRM import)."""
    truth = hidden_fit(world)
    rng = random.Random(f"deals-{world.seed}")
    if not Account.objects.exclude(external_id__startswith=SIM_EXTERNAL_PREFIX).exists():
        # a database of simulations only: the last run's learnt models must not teach this one
        LearnedModel.objects.all().delete()
        ThresholdProposal.objects.all().delete()
    accounts = {a.domain: a for a in Account.objects.filter(domain__in=list(truth))}
    with transaction.atomic():
        for sim in world.accounts:
            account = accounts.get(sim.domain)
            if account is None:
                continue
            plan, fits = truth[sim.domain]
            Account.objects.filter(pk=account.pk).update(plan=plan)
            if held_out(sim):
                continue
            won = fits != (rng.random() < LABEL_NOISE)
            closed = world.start - dt.timedelta(days=rng.randint(20, 200))
            Opportunity.objects.create(
                account=account, external_id=f"sim:{world.seed}:deal:{sim.index}", name=f"{sim.name} first deal",
                amount=Decimal(rng.choice([8_000, 20_000, 45_000])), close_date=closed.date(),
                status=Opportunity.Status.WON if won else Opportunity.Status.LOST,
                stage=Opportunity.Stage.WON if won else Opportunity.Stage.LOST, stage_changed_at=closed,
            )  # fmt: skip
    training.retrain(now=world.start)  # the fit is learnt before the first morning (when learning is on)


def preference(world: World, *, rep: str, action_type: str, seniority: str, at: dt.datetime) -> str | None:
    """The reason a rep rejects what the hidden truth says is worth doing, or None. One rep minds pricing
    outreach to directors in the first half; halfway the drift hands that taste to the next rep."""
    if action_type != "pricing_outreach" or seniority != "director" or not world.reps:
        return None
    half = world.start + dt.timedelta(days=world.days / 2)
    picky = world.reps[0] if at < half else world.reps[1 % len(world.reps)]
    return PREFERENCE_REASON if rep == picky else None


def after_reviews(*, part: int, at: dt.datetime, sync: Callable[[], object]) -> None:
    """The morning's retrain (the first driver process), then every process reads the new models."""
    sync()  # every part has reviewed
    if part == 0:
        training.retrain(now=at)
        manager_accepts(at)
    sync()
    store.forget()


def manager_accepts(at: dt.datetime) -> int:
    """The simulated manager reads the morning's threshold proposals and accepts them."""
    manager = get_user_model().objects.filter(username=MANAGER).first()
    accepted = 0
    for proposal in ThresholdProposal.objects.filter(status=ThresholdProposal.Status.PROPOSED):
        accepted += thresholds.accept_proposal(proposal=proposal, user=manager, now=at).status == "accepted"
    return accepted


def playbook_params() -> dict[str, dict]:
    """The playbook parameters before the run (what the simulated manager's acceptances change)."""
    return {c.code: c.params for c in PlaybookConfig.objects.all()}


def restore_playbook_params(before: dict[str, dict]) -> None:
    """Put the settings back as they were: the run's accepted proposals belong to the simulated world."""
    with transaction.atomic():
        PlaybookConfig.objects.exclude(code__in=list(before)).delete()
        for config in PlaybookConfig.objects.filter(code__in=list(before)):
            if config.params != before[config.code]:
                config.params = before[config.code]
                config.save(update_fields=["params", "updated_at"])


# --- scores -------------------------------------------------------------------------------------


def _reliability(pairs: list[tuple[float, int]], bins: int = 10) -> list[dict]:
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, y) for p, y in pairs if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if inside:
            rows.append({"bin": f"{lo:.1f}–{hi:.1f}", "n": len(inside),
                         "predicted": sum(p for p, _ in inside) / len(inside),
                         "observed": sum(y for _, y in inside) / len(inside)})  # fmt: skip
    return rows


def _brier_pair(pairs: list[tuple[float, int]]) -> list[float] | None:
    """[Brier of the confidence shown, Brier of a constant at the approval rate] of these reviews
    (the same score the learnt models keep of what reps saw)."""
    scored = calibration.shown_metrics(pairs)
    return [scored["shown_brier"], scored["shown_brier_base_rate"]] if pairs else None


def precision_by_week(
    world: World, snapshots: list[InboxSnapshot], k: int
) -> tuple[list[float | None], list[dict], list[list[dict]]]:
    """Precision at k per week (first week first), what the irrelevant items of each week were (by
    kind), and each of them (to look up in a kept run)."""
    weeks = max(1, -(-world.days // 7))
    result, misses, items = [], [], []
    for w in range(weeks):
        lo, hi = world.start + dt.timedelta(days=7 * w), world.start + dt.timedelta(days=7 * (w + 1))
        week = [s for s in snapshots if lo <= s.at < hi]
        scored = score(system="week", moments=world.moments, sightings=[], snapshots=week, reps=len(world.reps),
                       days=world.days, k=k)  # fmt: skip
        p = scored.precision_at_k
        result.append(None if p is None else round(p, 4))
        misses.append(scored.precision_misses)
        items.append(scored.precision_miss_items[:MISS_ITEMS_PER_WEEK])
    return result, misses, items


def scores(world: World, snapshots: list[InboxSnapshot], *, k: int, learning: bool) -> dict:
    """The JSON ``learning`` object (read from the database before the world is cleaned)."""
    domains = [a.domain for a in world.accounts]
    reviewed = (
        RecommendationOutcome.objects.filter(
            account__domain__in=domains, review__in=["approved", "edited", "rejected"], confidence_shown__isnull=False
        )
        .order_by("reviewed_at", "pk")
        .values_list("confidence_shown", "review", "reviewed_at")
    )  # sums in one order
    pairs = [(float(p), int(review != "rejected")) for p, review, _at in reviewed]
    labels = [y for _, y in pairs]
    base = sum(labels) / len(labels) if labels else None
    brier, brier_base_rate = _brier_pair(pairs) or (None, None)
    # the first morning's reviews saw the playbooks' hand-set confidence: nothing had been reviewed yet
    first_morning = world.start + dt.timedelta(days=1)
    later = [(float(p), int(review != "rejected")) for p, review, at in reviewed if at and at >= first_morning]
    truth = hidden_fit(world)
    fit_scores = dict(Account.objects.filter(domain__in=domains).values_list("domain", "fit_score"))
    held = [a.domain for a in world.accounts if held_out(a)]
    fit_labels = [int(truth[d][1]) for d in held]
    fit_auc = None
    if len(set(fit_labels)) == 2:
        fit_auc = float(roc_auc_score(fit_labels, [fit_scores.get(d) if fit_scores.get(d) is not None else 0.5
                                                   for d in held]))  # fmt: skip
    by_week, misses_by_week, miss_items_by_week = precision_by_week(world, snapshots, k)
    return {
        "enabled": learning,
        "reviews": len(pairs),
        "approval_rate": base,
        "brier": brier,
        "brier_base_rate": brier_base_rate,
        "rejections": len(labels) - sum(labels),
        "brier_after_first_morning": _brier_pair(later),
        "precision_at_10_by_week": by_week,
        "precision_misses_by_week": misses_by_week,
        "precision_miss_items_by_week": miss_items_by_week,
        "fit_auc": fit_auc,
        "fit_held_out_accounts": len(held),
        "threshold_changes_proposed": ThresholdProposal.objects.filter(
            created_at__gte=world.start, created_at__lte=world.end
        ).count(),
        "threshold_proposals": [
            f"{summary} [{status}{' ' + decided.date().isoformat() if decided else ''}]"
            for summary, status, decided in ThresholdProposal.objects.filter(
                created_at__gte=world.start, created_at__lte=world.end
            )
            .order_by("created_at")
            .values_list("summary", "status", "decided_at")
        ],
        "reliability": _reliability(pairs),
    }
