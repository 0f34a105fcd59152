"""What the learning says about one finding when it is composed: the calibrated confidence and what
it is the probability of, "why it should work" from peers, and the fit that priority combines."""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.models import Account
from recommendations.learning import calibration, peers
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
    """The finding's features the confidence model reads (kept on the recommendation and its outcome)."""
    return {"prior": round(finding.confidence, 4), "urgency": round(finding.urgency, 4),
            "intent": round(facts.intent_score, 4), "fit": account.fit_score}  # fmt: skip


def judge(*, finding: Finding, facts: PictureFacts, account: Account, models: Models) -> Judgement:
    """The calibrated view of one finding; the hand-set one while nothing is learnt (or learning is off)."""
    features = features_of(finding, facts, account)
    prior = max(0.0, min(1.0, finding.confidence))
    params = models.confidence.get(finding.playbook)
    if not params:
        return Judgement(confidence=prior, fit=account.fit_score, features=features)
    contact = facts.contact(finding.contact_id)
    seniority = contact.seniority if contact else ""
    p = calibration.probability(params, prior=prior, features=features, owner=account.owner_id, seniority=seniority)
    return Judgement(
        confidence=p,
        note=peers.confidence_note(p, params),
        rationale=peers.rationale(params, noun=history_noun(finding.playbook), segment=account.segment,
                                  seniority=seniority, fallback=finding.stated_reason),
        fit=account.fit_score,
        learned=True,
        features=features,
    )  # fmt: skip
