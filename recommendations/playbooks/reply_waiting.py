"""Reply waiting: a person answered our outreach with interest, a question, an objection or a referral,
and nobody has answered them yet.

A referral names someone to talk to instead. The inbound e-mail adds that person as a contact only
when they are at the account's own domain and the sender is verified; otherwise the name is a
suggestion for the rep, said as such here and kept out of the draft (DESIGN.md §7)."""

from __future__ import annotations

import datetime as dt
from email.utils import parseaddr

from accounts.models import Contact
from recommendations.playbooks import Action, Params, Playbook, register
from recommendations.playbooks.base import (
    MET,
    Criterion,
    EvidenceItem,
    Finding,
    PictureFacts,
    SignalFact,
    fmt_date,
    fmt_day,
    fmt_moment,
)
from salesai.text import single_line

CODE = "reply_waiting"
REPLY = Action(
    code="reply",
    label="Answer a reply",
    template="recommendations/drafts/reply.txt",
    answers=True,
)
DEFAULTS = {"intents": ["interested", "question", "objection", "referral"], "expires_days": 7}
INTENT_WORDS = {
    "interested": "interested",
    "question": "a question",
    "objection": "an objection",
    "referral": "a referral",
}
URGENCY = {"interested": 0.9, "question": 0.85, "objection": 0.75, "referral": 0.7}


def _answered(picture: PictureFacts, reply: SignalFact) -> bool:
    return any(e.contact_id == reply.contact_id and e.occurred_at > reply.occurred_at for e in picture.emails_sent)


def _waiting(picture: PictureFacts, now: dt.datetime, p: Params) -> SignalFact | None:
    intents = set(p["intents"])
    for reply in reversed(picture.human_replies()):
        if reply.occurred_at > now or reply.intent not in intents or not picture.reachable(reply.contact_id):
            continue
        later = [
            r for r in picture.human_replies() if r.contact_id == reply.contact_id and r.occurred_at > reply.occurred_at
        ]
        if later:
            continue  # their newest reply is what counts
        if not _answered(picture, reply):
            return reply
    return None


def _referral_note(picture: PictureFacts, referral: str) -> str:
    """Why the referred person is only a suggestion ("" when they are a contact of the account, or the
    reply named nobody by address)."""
    _, address = parseaddr(referral)
    address = address.strip().lower()
    if "@" not in address or any(c.email.lower() == address for c in picture.contacts):
        return ""
    if not Contact(email=address).is_at_domain(picture.domain):
        return f"not added, as it is outside {picture.domain}"
    return "not added as a contact: check the suggestion before writing to them"


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    reply = _waiting(picture, now, p)
    if reply is None:
        return None
    name = picture.contact_name(reply.contact_id)
    waited = (now - reply.occurred_at).days
    what = INTENT_WORDS.get(reply.intent, reply.intent)
    ref = f"signal:{reply.id}"
    mood = ""
    if reply.sentiment is not None:
        mood = " positive" if reply.sentiment >= 0.3 else (" negative" if reply.sentiment <= -0.3 else "")
    subject = single_line(reply.subject)
    referral = single_line(reply.referral) if reply.intent == "referral" else ""
    suggestion = _referral_note(picture, referral) if referral else ""
    summary = f"{name} replied on {fmt_day(reply.occurred_at)} with {what}"
    if referral:
        summary += f" (pointing to {referral}: {suggestion})" if suggestion else f" (pointing to {referral})"
    summary += f" and has waited {waited} days for an answer" if waited >= 1 else " that nobody has answered yet"
    statement = f"{name} replied on {fmt_moment(reply.occurred_at)}:{mood} {what}" + (
        f" ({subject})" if subject else ""
    )
    if suggestion:
        statement += f". {name} suggested talking to {referral}: {suggestion}"
    return Finding(
        playbook=CODE,
        code=f"reply_{reply.intent}",
        action_type=REPLY.code,
        title=f"Answer {name} at {picture.account_name}",
        summary=summary,
        contact_id=reply.contact_id,
        criteria=(
            Criterion("human_reply", f"A human reply with {what}", MET, (ref,)),
            Criterion("unanswered", "No e-mail to them since", MET, (ref,)),
            Criterion("reachable", f"{name} may be contacted", MET, (f"contact:{reply.contact_id}",)),
        ),
        evidence=(
            EvidenceItem(statement=statement, kind=reply.kind, occurred_at=reply.occurred_at, signal_id=reply.id),
        ),
        urgency=URGENCY.get(reply.intent, 0.7),
        confidence=min(0.95, max(0.5, reply.intent_confidence or 0.7)),
        why_now=f"{name} wrote on {fmt_moment(reply.occurred_at)} and nobody has answered since.",
        counterfactual=f"If anyone had e-mailed {name} after {fmt_date(reply.occurred_at)}.",
        expires_at=reply.occurred_at + dt.timedelta(days=int(p["expires_days"])),
        dedupe_key=f"{CODE}:{reply.id}",
        stakes=max(picture.open_opportunity_amount, picture.arr),
        stated_reason="A reply answered the same day keeps the conversation alive; interest cools within days.",
        # a suggested outsider stays out of the e-mail: the rep decides whether to write to them
        draft_context={
            "intent": reply.intent,
            "referral": "" if suggestion else referral,
            "reply_subject": subject,
        },
    )


def explain_drop(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> str:
    return "The reply has been answered, or the contact wrote again or asked not to be contacted."


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Reply waiting",
        actions=(REPLY,),
        evaluate=evaluate,
        story_order=2,
        history_noun="answers to replies",
        defaults=DEFAULTS,
        param_help={
            "intents": 'Reply intents that call for an answer. Example: ["interested", "question", "objection", "referral"]',
            "expires_days": "Days after the reply before the recommendation expires. Example: 7",
        },
        explain_drop=explain_drop,
        order=5,
    )
)
