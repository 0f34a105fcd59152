"""Pricing interest: repeated pricing-page visits in a short window mean someone is weighing a purchase."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from recommendations.playbooks import Action, Params, Playbook, register
from recommendations.playbooks.base import (
    MET,
    UNKNOWN,
    Criterion,
    EvidenceItem,
    Finding,
    PictureFacts,
    SignalFact,
    fmt_day,
    fmt_moment,
)

CODE = "pricing_interest"
PRICING_OUTREACH = Action(
    code="pricing_outreach",
    label="Reach out on pricing interest",
    template="recommendations/drafts/pricing_outreach.txt",
)
DEFAULTS = {
    "min_visits": 3,
    "window_days": 7,
    "path_contains": ["/pricing"],
    "expires_days": 5,
    # views of one visitor closer together than this are one visit: a person reads a page for more
    # than a few seconds; a link scanner posing as a browser opens every link within one
    "same_visit_seconds": 5,
}


def _counted(picture: PictureFacts, now: dt.datetime, p: Params) -> list[SignalFact]:
    """The pricing visits that count: in the window, after the last pricing outreach, and not within
    ``same_visit_seconds`` of the same visitor's previous one (automated visitors are left out before,
    at ingestion)."""
    since = now - dt.timedelta(days=int(p["window_days"]))
    acted = picture.last_actioned.get(PRICING_OUTREACH.code)
    gap = dt.timedelta(seconds=float(p["same_visit_seconds"]))
    counted: list[SignalFact] = []
    last_seen: dict[int | None, dt.datetime] = {}
    for v in sorted(picture.pricing_visits, key=lambda v: (v.occurred_at, v.id)):
        if not (since < v.occurred_at <= now) or (acted is not None and v.occurred_at <= acted):
            continue
        previous = last_seen.get(v.contact_id)
        last_seen[v.contact_id] = v.occurred_at
        if previous is None or v.occurred_at - previous >= gap:
            counted.append(v)
    return counted


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    threshold, window = int(p["min_visits"]), int(p["window_days"])
    visits = _counted(picture, now, p)
    if len(visits) < threshold:
        return None
    visitors = Counter(v.contact_id for v in visits if v.contact_id)
    known_visitors = tuple(cid for cid, _ in visitors.most_common())
    if picture.contacts and picture.best_contact() is None:
        return None  # everyone we know there asked not to be contacted
    contact_id = picture.best_contact(prefer=known_visitors)
    first, last, crossing = visits[0], visits[-1], visits[threshold - 1]
    n = len(visits)
    ages_out = visits[n - threshold].occurred_at + dt.timedelta(days=window)
    evidence = tuple(
        EvidenceItem(
            statement=(
                f"{picture.contact_name(v.contact_id) if v.contact_id else 'A visitor'} viewed "
                f"{v.path or 'the pricing page'} on {fmt_moment(v.occurred_at)}"
            ),
            kind=v.kind,
            occurred_at=v.occurred_at,
            signal_id=v.id,
        )
        for v in visits[-10:]
    )
    refs = tuple(e.ref for e in evidence)
    who = picture.contact_name(contact_id) if contact_id else None
    return Finding(
        playbook=CODE,
        code="pricing_burst",
        action_type=PRICING_OUTREACH.code,
        title=f"{picture.account_name} keeps coming back to pricing",
        summary=(
            f"{picture.account_name} visited your pricing page {n} times since {fmt_day(first.occurred_at)} "
            f"(last {fmt_moment(last.occurred_at)})"
        ),
        contact_id=contact_id,
        criteria=(
            Criterion("pricing_visits", f"At least {threshold} pricing-page visits within {window} days", MET, refs),
            Criterion(
                "reachable_contact",
                "Someone at the account we may contact",
                MET if contact_id else UNKNOWN,
                (f"contact:{contact_id}",) if contact_id else (),
            ),
        ),
        evidence=evidence,
        urgency=min(1.0, 0.55 + 0.05 * (n - threshold)),
        confidence=min(0.9, 0.55 + 0.05 * (n - threshold) + (0.1 if known_visitors else 0.0)),
        why_now=(
            f"Visit number {threshold} within {window} days came on {fmt_moment(crossing.occurred_at)}"
            + (f"; the latest was {fmt_moment(last.occurred_at)}." if last is not crossing else ".")
        ),
        counterfactual=(
            f"If fewer than {threshold} pricing visits fell within {window} days "
            f"(this burst ages out on {fmt_day(ages_out)}) or the account were contacted about pricing."
        ),
        expires_at=ages_out + dt.timedelta(days=int(p["expires_days"])),
        dedupe_key=f"{CODE}:{crossing.id}",
        stakes=max(picture.open_opportunity_amount, picture.arr),
        stated_reason=(
            "People who return to pricing several times in a week are comparing options; a helpful note "
            "while they decide gets answered far more often than a cold one later."
        ),
        draft_context={
            "visits": n,
            "known_visitor": bool(known_visitors),
            "contact_name": who,
            "plan": plan_viewed(visits),
        },
    )


#: Pages under /pricing/ that are not a plan ("/pricing/compare" is no "Compare plan").
NOT_PLANS = frozenset(
    {"compare", "comparison", "faq", "faqs", "calculator", "features", "contact", "contact-sales", "quote",
     "demo", "overview", "details", "table", "checkout", "billing", "discounts", "calculate"}
)  # fmt: skip


def plan_viewed(visits: list[SignalFact]) -> str:
    """The plan the visits looked at most, from paths such as ``/pricing/enterprise`` ("Enterprise"),
    or '' when they only saw the pricing page itself."""
    counts: dict[str, int] = {}
    for visit in visits:
        path = visit.path.split("?")[0].split("#")[0].lower().rstrip("/")
        parts = [part for part in path.split("/") if part]
        if len(parts) >= 2 and parts[-2] in ("pricing", "plans") and parts[-1] not in NOT_PLANS:
            name = parts[-1].replace("-", " ").replace("_", " ").strip()
            if name.isascii() and 0 < len(name) <= 30:
                counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda k: (counts[k], k)).title() if counts else ""


def next_check(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> dt.datetime | None:
    """When the oldest visit counted in the window ages out (the count, and maybe the finding, changes)."""
    p = PLAYBOOK.params(params)
    visits = _counted(picture, now, p)
    if not visits:
        return None
    return visits[0].occurred_at + dt.timedelta(days=int(p["window_days"]))


def explain_drop(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> str:
    p = PLAYBOOK.params(params)
    n = len(_counted(picture, now, p))
    return f"Only {n} pricing visits remain within {p['window_days']} days (needs {p['min_visits']})."


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Pricing interest",
        actions=(PRICING_OUTREACH,),
        evaluate=evaluate,
        story_order=1,
        history_noun="pricing-interest e-mails",
        page_paths=lambda params: params.get("path_contains") or ["/pricing"],
        defaults=DEFAULTS,
        param_help={
            "min_visits": "Pricing-page visits needed within the window. Example: 3",
            "window_days": "Length of the window in days. Example: 7",
            "path_contains": 'A page view is a pricing visit when its path or URL contains one of these. Example: ["/pricing", "/plans"]',
            "expires_days": "Days the recommendation stays open after the burst ages out. Example: 5",
            "same_visit_seconds": "Views of one visitor closer together than this count as one visit (a mail "
            "scanner opens every link at once). Example: 5",
        },
        next_check=next_check,
        explain_drop=explain_drop,
        order=10,
    )
)
