"""What the learning says about one finding when it is composed: the calibrated confidence and what
it is the probability of, "why it should work" from peers, and the fit that priority combines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from accounts.models import Account
from recommendations.learning import calibration, contacts, peers
from recommendations.learning.store import Models
from recommendations.playbooks import history_noun
from recommendations.playbooks.base import Finding, PictureFacts


@dataclass(frozen=True)
class Judgement:
    confidence: float
    note: str = ""
    rationale: str = ""  # empty: the composer's own
    fit: float | None = None
    learned: bool = False  # a trained model spoke (priority then weighs the confidence and the fit)
    features: dict = field(default_factory=dict)


def features_of(finding: Finding, facts: PictureFacts, account: Account) -> dict:
    """The finding's features the confidence model reads (kept on the recommendation and its outcome):
    its own numbers, the account's, and the shape of its evidence (how many items over how many days)."""
    days = {e.occurred_at.date() for e in finding.evidence if e.occurred_at is not None}
    return {"prior": round(finding.confidence, 4), "urgency": round(finding.urgency, 4),
            "intent": round(facts.intent_score, 4), "fit": account.fit_score, "account": account.pk,
            "action": finding.action_type, "code": finding.code, "evidence": len(finding.evidence),
            "evidence_days": len(days)}  # fmt: skip


def learned_priority(*, urgency: float, stakes: Decimal | float, intent: float, confidence: float,
                     fit: float | None) -> int:  # fmt: skip
    """0–100 once a model speaks: 0.35 urgency, 0.2 value at stake (log-scaled to $500k), 0.15 intent,
    0.2 calibrated confidence, 0.1 fit (neutral 0.5 while unknown), fit kept apart from intent."""
    value = min(1.0, math.log10(1 + float(stakes or 0)) / math.log10(1 + 500_000))
    fit = 0.5 if fit is None else fit
    score = 100 * (0.35 * urgency + 0.2 * value + 0.15 * intent + 0.2 * confidence + 0.1 * fit)
    return max(0, min(100, round(score)))


def calibrated(params: dict, *, prior: float, features: dict, owner, seniority: str, contact: dict,
               playbook: str) -> tuple[float, str]:  # fmt: skip
    """The calibrated probability (rounded as stored) and the note saying what it is the probability of.

    A rep approves only what has the right trigger *and* the right person: the trigger's probability is
    multiplied by the chance that this rep does not call this role the wrong contact again, read from
    their last reviews of the playbook's e-mails to it (``contact``: the contact model's params). When
    the contact choice could not route around a role the rep keeps rejecting (nobody else fits), the
    card says so and the number shows it."""
    p = calibration.probability(params, prior=prior, features=features, owner=owner, seniority=seniority)
    wrong, total = contacts.role_record(contact, owner=owner, playbook=playbook, seniority=seniority)
    p = round(p * (1 - contacts.wrong_contact_chance(wrong, total)), 3)
    note = peers.confidence_note(p, params)
    if wrong:
        note += f"; this rep called {wrong} of their last {total} such e-mails to this role the wrong contact"
    return p, note


def judge(*, finding: Finding, facts: PictureFacts, account: Account, models: Models) -> Judgement:
    """The calibrated view of one finding; the hand-set one while nothing is learnt (or learning is off)."""
    features = features_of(finding, facts, account)
    prior = max(0.0, min(1.0, finding.confidence))
    params = models.confidence.get(finding.playbook) or models.confidence.get(calibration.POOLED)
    if not params:
        return Judgement(confidence=prior, fit=account.fit_score, features=features)
    contact = facts.contact(finding.contact_id)
    seniority = contact.seniority if contact else ""
    p, note = calibrated(params, prior=prior, features=features, owner=account.owner_id, seniority=seniority,
                         contact=models.contact, playbook=finding.playbook)  # fmt: skip
    if not params.get("n"):  # only the installation's record so far: calibrated, but no peers to quote
        return Judgement(confidence=p, note=note, fit=account.fit_score, learned=True, features=features)
    return Judgement(
        confidence=p,
        note=note,
        rationale=peers.rationale(params, noun=history_noun(finding.playbook), segment=account.segment,
                                  seniority=seniority, fallback=finding.stated_reason),
        fit=account.fit_score,
        learned=True,
        features=features,
    )  # fmt: skip
