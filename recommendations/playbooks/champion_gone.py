"""Champion gone: the main contact of an open deal answered "wrong person", left, or their e-mail
bounced. Proposes the next person to talk to, from the deal first, then the account, by seniority;
when no one else there may be e-mailed (everyone left, refused or bounced), it still tells the rep, with
no recipient yet: the deal needs a new champion all the same, found by a call or at the next meeting,
and the draft goes to whomever the rep adds and picks."""

from __future__ import annotations

import datetime as dt

from recommendations.playbooks import Action, Params, Playbook, register
from recommendations.playbooks.base import (
    MET,
    NOT_MET,
    Criterion,
    EvidenceItem,
    Finding,
    PictureFacts,
    SignalFact,
    by_seniority,
    champion_of,
    fmt_day,
    fmt_money,
    stage_label,
)

CODE = "champion_gone"
REPLACE_CHAMPION = Action(
    code="replace_champion",
    label="Find a new champion",
    template="recommendations/drafts/replace_champion.txt",
)
DEFAULTS = {"expires_days": 14}
LEFT_WORDS = ("left", "no longer", "departed", "moved on")


def exit_of(picture: PictureFacts, contact_id: int) -> tuple[str, SignalFact | None, str] | None:
    """How the contact went away: (code, the signal that says so, a sentence), or None. The CRM saying
    they left comes first: it is the newest and surest word (a "wrong person" may have come before it)."""
    contact = picture.contact(contact_id)
    if contact and contact.do_not_contact and any(w in contact.do_not_contact_reason.lower() for w in LEFT_WORDS):
        reason = contact.do_not_contact_reason.strip()
        said = "" if reason.lower().rstrip(".") == "left the company" else f" ({reason})"
        return "left", None, f"left the company{said}"
    for reply in reversed(picture.human_replies()):
        if reply.contact_id == contact_id and reply.intent == "wrong_person" and not reply.effect_withheld:
            return "wrong_person", reply, f"replied “wrong person” on {fmt_day(reply.occurred_at)}"
    for bounce in reversed(picture.bounces):
        if bounce.contact_id == contact_id and not bounce.effect_withheld:
            return "bounced", bounce, f"their e-mail bounced on {fmt_day(bounce.occurred_at)}"
    return None


def _unreachable(picture: PictureFacts, champion: int) -> str:
    """Why the others cannot be e-mailed, in a clause: "Kim Berg: replied “not interested” on 3 Mar"."""
    others = [c for c in picture.contacts if c.id != champion]
    if not others:
        return "we know no one else there"
    return "; ".join(f"{c.display_name}: {picture.suppressed.get(c.id, 'do not contact')}" for c in others[:3])


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    for deal in picture.deals:
        champion = champion_of(picture, deal)
        gone = exit_of(picture, champion) if champion is not None else None
        if gone is None:
            continue
        code, signal, how = gone
        deal_first = by_seniority(picture, deal.contact_ids)
        rest = [c for c in by_seniority(picture, (c.id for c in picture.contacts)) if c not in deal_first]
        candidates = [c for c in (*deal_first, *rest) if c.id != champion]
        successor = candidates[0] if candidates else None
        name = picture.contact_name(champion)
        if successor is not None:
            where = "on the deal" if successor in deal_first else f"at {picture.account_name}"
            ask = f"talk to {successor.display_name}"
            next_step = (
                f"the deal needs someone else {where}: {successor.display_name} "
                f"({successor.title or successor.seniority}) is the most senior one we know."
            )
        else:
            ask = "find who picks it up"
            next_step = (
                f"no one else we know at {picture.account_name} may be e-mailed ({_unreachable(picture, champion)}): "
                "find who picks the deal up (a call, the next meeting) and add them."
            )
        return Finding(
            playbook=CODE,
            code=code,
            action_type=REPLACE_CHAMPION.code,
            title=f"{name}, who led {deal.name}, {how.split(' on ')[0]}: {ask}",
            summary=f"{name}, the main contact of the {fmt_money(deal.amount)} deal {deal.name}, {how}",
            contact_id=successor.id if successor else None,
            criteria=(
                Criterion("main_contact", f"{name} led the deal", MET, (f"opportunity:{deal.id}",)),
                Criterion(code, f"{name} {how}", MET, (f"signal:{signal.id}",) if signal else ()),
                Criterion(
                    "successor",
                    "Someone else at the account may be e-mailed",
                    MET if successor else NOT_MET,
                    (f"contact:{successor.id}",) if successor else (),
                ),
            ),
            evidence=(
                EvidenceItem(
                    statement=f"{name} {how}",
                    kind=code,
                    occurred_at=signal.occurred_at if signal else None,
                    signal_id=signal.id if signal else None,
                    fact_type="" if signal else "contact",
                    fact_id=None if signal else champion,
                ),
                EvidenceItem(
                    statement=f"{fmt_money(deal.amount)} deal {deal.name} is open in {stage_label(deal.stage)}",
                    kind="deal",
                    occurred_at=deal.stage_changed_at,
                    fact_type="opportunity",
                    fact_id=deal.id,
                ),
            ),
            urgency=0.75,
            confidence=0.6,
            why_now=f"{name} {how}; {next_step}",
            counterfactual=f"If {name} were still answering about {deal.name}.",
            expires_at=now + dt.timedelta(days=int(p["expires_days"])),
            dedupe_key=f"{CODE}:{deal.id}:{champion}:{code}",
            stakes=deal.amount,
            stated_reason="A deal whose champion leaves usually dies quietly unless someone else picks it up within days.",
            draft_context={"deal_name": deal.name, "previous_contact": name, "gone": code},
        )
    return None


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Champion gone",
        actions=(REPLACE_CHAMPION,),
        evaluate=evaluate,
        story_order=1,
        history_noun="new-champion e-mails",
        defaults=DEFAULTS,
        param_help={"expires_days": "Days the recommendation stays open. Example: 14"},
        explain_drop=lambda picture, now, params=None: (
            "The deal's main contact is answering again, or the deal closed."
        ),
        order=34,
    )
)
