"""What does a reply to our outreach mean? Intent, confidence, sentiment and the facts it names.

Pure functions, no database: the inbound service and the simulator both call
:func:`classify_reply`. Rules go first where a mistake is costly and the wording is unambiguous
(auto-replies by header/subject/boilerplate, unsubscribes); everything else goes to a small
scikit-learn model (TF-IDF word + character n-grams → logistic regression) trained at first use on
the examples shipped in ``signals/data/reply_intents.csv`` (deterministic: fixed ``random_state``,
cached in-process). ``predict_proba`` gives the confidence.

A "not now" reply names when to come back where it can (``check_in_at``); a referral names the new
person where it can (``referral``): ``signals.reply_facts`` reads both.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from signals.autoreply import HeaderInput, detect_auto_reply
from signals.reply_facts import EMAIL_RE, Referral, extract_check_in, extract_referral, names_whom_to_contact
from signals.sentiment import sentiment_score

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAINING_CSV = DATA_DIR / "reply_intents.csv"
RANDOM_STATE = 20261126

INTENTS = (
    "interested",
    "question",
    "objection",
    "not_now",
    "not_interested",
    "unsubscribe",
    "referral",
    "wrong_person",
    "auto_reply",
)


@dataclass(frozen=True)
class ReplyClassification:
    """The meaning of one reply. ``intent`` is one of ``Signal.Intent`` (or "" for an empty reply)."""

    intent: str
    confidence: float
    sentiment: float | None
    is_auto_reply: bool = False
    method: str = "model"  # "model", "rule:unsubscribe", "rule:auto_reply", "rule:referral", "empty"
    reason: str = ""
    probabilities: dict[str, float] = field(default_factory=dict)
    check_in_at: date | None = None
    check_in_phrase: str = ""
    referral: Referral | None = None

    @property
    def is_human(self) -> bool:
        return not self.is_auto_reply


# --- rules ------------------------------------------------------------------------------------------

_UNSUBSCRIBE = re.compile(
    r"\bunsubscribe\b|\bunsubscribed\b"
    r"|\bremove (?:me|my (?:e-?mail|address|name|details))\b[^.!?\n]{0,40}\b(?:list|lists|database|system|"
    r"crm|mailing|distribution|contacts|records|sequence|cadence)"
    r"|\bremove me\b\s*(?:[.!]|$|please|asap|immediately|now)"
    r"|\btake me off\b|\btake my (?:e-?mail|address|name) off\b|\bopt(?:ing)? (?:me )?out\b|\bopt-out\b"
    r"|\b(?:stop|quit|cease) (?:e-?mailing|contacting|messaging|spamming|writing to|sending (?:me|us))\b"
    r"|\bdo not (?:e-?mail|contact|message|write to) (?:me|us) (?:again|anymore|any more|further)"
    r"|\bdon'?t (?:e-?mail|contact|message|write to) (?:me|us) (?:again|anymore|any more|ever)"
    r"|\bno (?:more|further) (?:e-?mails|emails|messages|contact)\b"
    r"|^\s*stop\s*[.!]*\s*$"
    r"|\babmelden\b|\bbitte (?:aus|von) (?:ihrem|ihrer|dem|der) (?:verteiler|liste|mailingliste)\b|\bkeine (?:weiteren )?e-?mails mehr"
    r"|\bdésabonner\b|\bdésinscri|\bne plus (?:me )?(?:contacter|recevoir)"
    r"|\bdar(?:me)? de baja\b|\bdarse de baja\b|\bno me (?:escriban|contacten|envíen)"
    r"|\bcancella(?:re|te) (?:la mia iscrizione|iscrizione)|\bdisiscriv"
    r"|\bafmelden\b|\buitschrijven\b",
    re.IGNORECASE | re.MULTILINE,
)

# "I can't unsubscribe" / "how do I unsubscribe others" are rare in replies to 1:1 outreach; a
# negated request is the one false positive worth guarding against.
_UNSUBSCRIBE_NEGATED = re.compile(r"\b(?:don'?t|do not|please don'?t|no need to) (?:unsubscribe|remove) me\b", re.I)


def is_unsubscribe_request(text: str) -> bool:
    return bool(_UNSUBSCRIBE.search(text or "")) and not _UNSUBSCRIBE_NEGATED.search(text or "")


# --- the model --------------------------------------------------------------------------------------


def load_training_rows(path: Path = TRAINING_CSV) -> list[tuple[str, str]]:
    """``(text, intent)`` rows of the shipped training set (columns ``text``, ``intent``)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(row["text"].strip(), row["intent"].strip()) for row in csv.DictReader(handle)]
    unknown = {intent for _, intent in rows} - set(INTENTS)
    if unknown:
        raise ValueError(f"{path.name}: unknown intents {sorted(unknown)}")
    return [row for row in rows if row[0]]


def build_pipeline():
    # Imported when the first reply is classified, not with the module: scikit-learn (with numpy and
    # scipy) would otherwise weigh on the memory and start-up of every web process and worker that
    # loads the URLs, whether or not it ever reads an e-mail. Not a cycle: nothing of ours is here.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True)),
        ]
    )
    model = LogisticRegression(C=20.0, max_iter=5000, class_weight="balanced", random_state=RANDOM_STATE)
    return Pipeline([("features", features), ("model", model)])


@lru_cache(maxsize=1)
def intent_model():
    """The fitted pipeline, trained once per process from the shipped CSV."""
    rows = load_training_rows()
    pipeline = build_pipeline()
    pipeline.fit([_normalise_for_model(text) for text, _ in rows], [intent for _, intent in rows])
    return pipeline


def _normalise_for_model(text: str) -> str:
    text = EMAIL_RE.sub(" emailaddress ", text)
    return re.sub(r"\s+", " ", text).strip()


def predict_intent(text: str) -> dict[str, float]:
    """The model's probability per intent, highest first."""
    pipeline = intent_model()
    probabilities = pipeline.predict_proba([_normalise_for_model(text)])[0]
    pairs = sorted(zip(pipeline.classes_, probabilities, strict=True), key=lambda pair: -pair[1])
    return {str(intent): round(float(p), 4) for intent, p in pairs}


# --- the public entry point ---------------------------------------------------------------------------


def classify_reply(
    text: str,
    *,
    subject: str = "",
    headers: HeaderInput = None,
    received_at: date | datetime | None = None,
    sender_email: str = "",
) -> ReplyClassification:
    """Classify one reply's (already de-quoted) text.

    ``headers`` may be a dict, a list of pairs or an ``email.message.Message``. ``received_at`` (the
    e-mail's date) anchors relative dates for ``check_in_at``; without it, no date is extracted.
    ``sender_email`` is never taken for a referral."""
    text = (text or "").strip()
    auto = detect_auto_reply(headers=headers, subject=subject, text=text)
    if auto:
        return ReplyClassification(
            intent="auto_reply",
            confidence=0.99,
            sentiment=None,
            is_auto_reply=True,
            method="rule:auto_reply",
            reason=auto.reason,
        )
    if not text:
        return ReplyClassification(intent="", confidence=0.0, sentiment=None, method="empty", reason="no reply text")
    sentiment = sentiment_score(text)
    if is_unsubscribe_request(text):
        return ReplyClassification(
            intent="unsubscribe",
            confidence=0.98,
            sentiment=sentiment,
            method="rule:unsubscribe",
            reason="unsubscribe wording",
        )
    probabilities = predict_intent(text)
    intent, confidence = next(iter(probabilities.items()))
    method, reason = "model", f"model top intent ({confidence:.2f})"
    if intent == "auto_reply":
        return ReplyClassification(
            intent=intent, confidence=confidence, sentiment=None, is_auto_reply=True, method=method, reason=reason,
            probabilities=probabilities,
        )  # fmt: skip
    referral = None
    if intent in {"referral", "wrong_person"}:
        referral = extract_referral(text, exclude_emails=[sender_email] if sender_email else [])
        if intent == "wrong_person" and referral is not None and (referral.email or names_whom_to_contact(text)):
            intent, confidence = "referral", max(probabilities.get("referral", 0.0), 0.6)
            method, reason = "rule:referral", "names the person to contact instead"
        if intent != "referral":
            referral = None
    check_in_at, phrase = None, ""
    if intent == "not_now" and received_at is not None:
        check_in_at, phrase = extract_check_in(text, reference=received_at)
    return ReplyClassification(
        intent=intent,
        confidence=confidence,
        sentiment=sentiment,
        method=method,
        reason=reason,
        probabilities=probabilities,
        check_in_at=check_in_at,
        check_in_phrase=phrase,
        referral=referral,
    )
