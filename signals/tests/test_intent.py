"""classify_reply and its parts, without a database: rules, the model, dates and referrals."""

from __future__ import annotations

import datetime as dt

import pytest

from signals.intent import (
    INTENTS,
    ReplyClassification,
    classify_reply,
    intent_model,
    is_unsubscribe_request,
    load_training_rows,
    predict_intent,
)
from signals.models import Signal
from signals.reply_facts import extract_check_in, extract_referral
from signals.sentiment import sentiment_score

REFERENCE = dt.date(2026, 11, 26)  # a Thursday in Q4


def test_intents_match_the_model_choices():
    assert set(INTENTS) == set(Signal.Intent.values)
    assert {intent for _, intent in load_training_rows()} == set(INTENTS)
    assert len(load_training_rows()) >= 400


def test_training_is_deterministic():
    first = predict_intent("Maybe later this year, we are busy.")
    intent_model.cache_clear()
    assert predict_intent("Maybe later this year, we are busy.") == first


def test_classification_carries_confidence_probabilities_and_sentiment():
    result = classify_reply("Sounds great, let's set up a call next week!")
    assert isinstance(result, ReplyClassification)
    assert result.intent == "interested" and result.method == "model"
    assert 0 < result.confidence <= 1 and result.confidence == max(result.probabilities.values())
    assert abs(sum(result.probabilities.values()) - 1) < 0.01
    assert result.sentiment > 0.5 and result.is_human


@pytest.mark.parametrize(
    "text",
    [
        "Please remove me from your mailing list.",
        "unsubscribe",
        "STOP",
        "Take me off your list please",
        "Stop emailing me.",
        "Don't contact me again.",
        "Bitte abmelden.",
        "Merci de me désabonner de cette liste.",
        "Por favor darme de baja.",
    ],
)
def test_unsubscribe_rule(text):
    result = classify_reply(text)
    assert result.intent == "unsubscribe" and result.method == "rule:unsubscribe" and result.confidence >= 0.95


def test_sentiment_alone_would_miss_the_unsubscribe():
    text = "Please remove me from your mailing list."
    assert sentiment_score(text) > 0.3
    assert classify_reply(text).intent == "unsubscribe"


@pytest.mark.parametrize(
    "text",
    ["Please don't unsubscribe me, I like these updates. Send pricing.", "We stopped using our old tool."],
)
def test_not_unsubscribes(text):
    assert not is_unsubscribe_request(text)


@pytest.mark.parametrize(
    ("headers", "subject", "text", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Re: hi", "Thanks", "Auto-Submitted: auto-replied"),
        ({"auto-submitted": "auto-generated"}, "", "x", "Auto-Submitted: auto-generated"),
        ({"X-Autoreply": "yes"}, "", "x", "x-autoreply header"),
        ({"X-Autorespond": "Thanks"}, "", "x", "x-autorespond header"),
        ({"X-Auto-Response-Suppress": "All"}, "", "x", "X-Auto-Response-Suppress: all"),
        ({"Precedence": "bulk"}, "", "x", "Precedence: bulk"),
        ({"Precedence": "auto_reply"}, "", "x", "Precedence: auto_reply"),
        ({"Return-Path": "<>"}, "", "x", "empty Return-Path"),
        ({"From": "Acme Support <noreply@acme.com>"}, "", "x", "machine sender address"),
        ({"From": "do-not-reply@tickets.example.com"}, "", "x", "machine sender address"),
        ({"Content-Type": "multipart/report; report-type=disposition-notification"}, "", "x", "multipart/report"),
        ({}, "Automatic reply: Quick question", "x", "auto-reply subject"),
        ({}, "Out of Office: Re: Quick question", "x", "auto-reply subject"),
        ({}, "Abwesenheitsnotiz: Kurze Frage", "x", "auto-reply subject"),
        ({}, "Réponse automatique : Question", "x", "auto-reply subject"),
        ({}, "Respuesta automática: Pregunta", "x", "auto-reply subject"),
        ({}, "Risposta automatica: Domanda", "x", "auto-reply subject"),
        ({}, "Re: hi", "I am out of the office until Monday with limited access to email.", "out-of-office wording"),
        ({}, "Re: hi", "Ich bin bis 3. Januar im Urlaub. In dringenden Fällen: info@firma.de", "out-of-office wording"),
    ],
)
def test_auto_reply_rules(headers, subject, text, reason):
    result = classify_reply(text, subject=subject, headers=headers)
    assert result.intent == "auto_reply" and result.is_auto_reply and result.reason == reason
    assert result.sentiment is None


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "no"}, {"Precedence": "first-class"}, {"Return-Path": "<jane@acme.com>"}, None, []],
)
def test_human_headers_are_not_auto_replies(headers):
    assert not classify_reply("Yes, let's talk on Tuesday.", headers=headers).is_auto_reply


def test_a_person_mentioning_their_vacation_is_not_an_auto_reply():
    result = classify_reply("I'll be on vacation until the 15th, let's talk after that.", received_at=REFERENCE)
    assert not result.is_auto_reply and result.intent == "not_now"
    assert result.check_in_at == dt.date(2026, 12, 15) or result.check_in_at is None


def test_header_pairs_and_message_objects_are_accepted():
    from email.message import EmailMessage

    message = EmailMessage()
    message["Auto-Submitted"] = "auto-replied"
    assert classify_reply("x", headers=message).is_auto_reply
    assert classify_reply("x", headers=[("X-Autoreply", "yes")]).is_auto_reply


def test_empty_text_has_no_intent():
    result = classify_reply("   ")
    assert result.intent == "" and result.method == "empty" and result.confidence == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Not now, ping me in Q2.", dt.date(2027, 4, 1)),
        ("Reach out after March 15.", dt.date(2027, 3, 15)),
        ("Please try again after 15 March.", dt.date(2027, 3, 15)),
        ("Let's revisit next quarter.", dt.date(2027, 1, 1)),
        ("Can you check back in two weeks?", dt.date(2026, 12, 10)),
        ("Maybe in January.", dt.date(2027, 1, 1)),
        ("Try me in a couple of months.", dt.date(2027, 1, 26)),
        ("Ask again in 3 months", dt.date(2027, 2, 26)),
        ("Ping me after the holidays.", dt.date(2027, 1, 5)),
        ("Let's talk early next year.", dt.date(2027, 1, 1)),
        ("We'll look at this in the fall.", dt.date(2027, 9, 1)),
        ("Try me mid-July.", dt.date(2027, 7, 15)),
        ("Next month would be better.", dt.date(2026, 12, 1)),
        ("Check in next week.", dt.date(2026, 11, 30)),
        ("Send me a note in 90 days.", dt.date(2027, 2, 24)),
        ("Q1 2027 is when we plan budgets.", dt.date(2027, 1, 1)),
        ("We're busy until March, but ping me in April.", dt.date(2027, 4, 1)),
        ("Lass uns im nächsten Quartal sprechen.", dt.date(2027, 1, 1)),
        ("Recontactez-moi en mars.", dt.date(2027, 3, 1)),
        ("Let's revisit after our board meeting.", None),
        ("Not now.", None),
    ],
)
def test_check_in_dates(text, expected):
    assert extract_check_in(text, reference=REFERENCE)[0] == expected


def test_check_in_accepts_a_datetime_and_classify_uses_the_email_date():
    received = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    result = classify_reply("Not a priority right now. Please follow up next quarter.", received_at=received)
    assert result.intent == "not_now" and result.check_in_at == dt.date(2026, 4, 1)
    assert result.check_in_phrase == "next quarter"


@pytest.mark.parametrize(
    ("text", "name", "email"),
    [
        ("Please contact Laura Chen at laura.chen@initech.com.", "Laura Chen", "laura.chen@initech.com"),
        ("You should talk to our head of sales ops, Mark Chen (mark.chen@x.com).", "Mark Chen", "mark.chen@x.com"),
        ("Wrong person — try marcus.lee@umbrella.com, he handles tooling.", "Marcus Lee", "marcus.lee@umbrella.com"),
        ("Speak with our CFO Robert King about this.", "Robert King", ""),
        ("Jordan Lee is the right person for this.", "Jordan Lee", ""),
        ("Reach out to ops@company.com instead.", "", "ops@company.com"),
        ("Bitte kontaktieren Sie Frau Becker: anna.becker@firma.de", "Becker", "anna.becker@firma.de"),
    ],
)
def test_referral_extraction(text, name, email):
    assert extract_referral(text) is not None
    referral = extract_referral(text)
    assert (referral.name, referral.email) == (name, email)


def test_referral_never_names_the_sender():
    text = "Talk to Ann Lee, ann@acme.com. -- Bob, bob@acme.com"
    assert extract_referral(text, exclude_emails=["ann@acme.com"]).email == "bob@acme.com"
    assert extract_referral("No idea, sorry.") is None


def test_classify_referral_carries_the_person():
    result = classify_reply("I'm not the right person, please reach out to Jane Doe at jane.doe@acme.com.")
    assert result.intent == "referral"
    assert result.referral.as_dict() == {"name": "Jane Doe", "email": "jane.doe@acme.com"}


def test_wrong_person_without_a_name_stays_wrong_person():
    result = classify_reply("I left the company last year, sorry.")
    assert result.intent == "wrong_person" and result.referral is None
