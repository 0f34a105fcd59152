"""Drafts: the subject and body a recommendation proposes, rendered from per-action templates in
``templates/recommendations/drafts/<action_type>.txt``, optionally rewritten by an LLM.

The LLM is off unless ``SALESAI["LLM_BASE_URL"]`` is set. It only rewrites wording: the evidence,
reasoning and facts never come from it, and any failure (timeout, bad answer) keeps the template
draft. The call happens after commit in its own task (no network inside a transaction)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

LLM_TIMEOUT_SECONDS = 10
SYSTEM_PROMPT = (
    "You rewrite short sales e-mails to sound natural and tactful. Keep every fact, date and number exactly; "
    "add no new claims; never mention tracking, page visits or that the reader was observed. "
    'Answer with JSON only: {"subject": "...", "body": "..."}.'
)


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str


def render_draft(*, finding, facts, account, contact) -> Draft:
    """Render the template for the finding's action type, personalised with the contact's first name."""
    owner = getattr(account, "owner", None)
    sender = (owner.get_full_name() or owner.get_username()) if owner else ""
    context = {
        "account_name": facts.account_name,
        "first_name": contact.first_name if contact else "",
        "contact_name": contact.display_name if contact else "",
        "sender_name": sender or "The team",
        **dict(finding.draft_context),
    }
    text = render_to_string(f"recommendations/drafts/{finding.action_type}.txt", context).strip()
    return parse_draft(text)


def parse_draft(text: str) -> Draft:
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        return Draft(subject=first[len("subject:") :].strip(), body=rest.strip() + "\n")
    return Draft(subject="", body=text.strip() + "\n")


def llm_enabled() -> bool:
    conf = getattr(settings, "SALESAI", {})
    return bool(conf.get("LLM_BASE_URL") and conf.get("LLM_MODEL"))


def rewrite_with_llm(draft: Draft, *, facts_note: str = "", timeout: float = LLM_TIMEOUT_SECONDS) -> Draft:
    """Ask the OpenAI-compatible endpoint to polish ``draft``; return ``draft`` unchanged on any failure."""
    if not llm_enabled():
        return draft
    conf = settings.SALESAI
    url = conf["LLM_BASE_URL"].rstrip("/") + "/chat/completions"
    payload = {
        "model": conf["LLM_MODEL"],
        "temperature": 0.3,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": json.dumps({"subject": draft.subject, "body": draft.body, "context": facts_note}),
            },
        ],
    }
    headers = {"Content-Type": "application/json"}
    if conf.get("LLM_API_KEY"):
        headers["Authorization"] = f"Bearer {conf['LLM_API_KEY']}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
            answer = json.loads(response.read(1_000_000))
        content = answer["choices"][0]["message"]["content"].strip()
        if content.startswith("```"):
            content = content.strip("`").removeprefix("json").strip()
        parsed = json.loads(content)
        subject, body = str(parsed["subject"]).strip(), str(parsed["body"]).strip()
    except (OSError, urllib.error.URLError, ValueError, KeyError, IndexError, TypeError) as exc:
        logger.warning("llm_rewrite_failed", extra={"error": type(exc).__name__, "url": url})
        return draft
    if not subject or not body or len(body) > 5000:
        return draft
    return Draft(subject=subject[:300], body=body + "\n")


def queue_polish(recommendation) -> None:
    """After commit, let the LLM (if configured) polish this version's draft."""
    if not llm_enabled():
        return
    from recommendations.tasks import polish_draft

    rec_id, version = recommendation.pk, recommendation.version
    transaction.on_commit(lambda: polish_draft.delay(rec_id, version))


def polish_recommendation_draft(*, recommendation_id: int, version: int) -> bool:
    """Rewrite the stored draft of one recommendation version; skip if it moved on or closed meanwhile."""
    from audit.services import audit_record
    from recommendations.models import Recommendation

    rec = Recommendation.objects.filter(pk=recommendation_id).first()
    if rec is None or rec.version != version or not rec.is_open:
        return False
    original = Draft(rec.draft_subject, rec.draft_body)
    polished = rewrite_with_llm(original, facts_note=rec.reasoning)
    if polished == original:
        return False
    with transaction.atomic():
        updated = Recommendation.objects.filter(
            pk=rec.pk, version=version, status__in=Recommendation.OPEN_STATUSES
        ).update(draft_subject=polished.subject, draft_body=polished.body)
        if updated:
            audit_record(action="recommendation.draft_polished", reference=f"recommendation:{rec.pk}", data={})
    return bool(updated)
