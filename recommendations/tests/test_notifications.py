"""Proactive notices: the morning digest in the rep's time zone (once per local day) and immediate
notices for urgent recommendations, through Django's e-mail backend (locmem, and a real SMTP server)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import RepProfile
from accounts.tests.factories import AccountFactory, UserFactory
from audit.models import AuditEvent
from conftest import free_port
from recommendations.models import ActionType, Recommendation
from recommendations.services import notifications
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from salesai.celery import app as celery_app

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# 27 Nov 2026: Berlin is UTC+1, so 08:00 local is 07:00 UTC.
MORNING = dt.datetime(2026, 11, 27, 8, 0, tzinfo=BERLIN)


@pytest.fixture
def rep():
    user = UserFactory(username="carol", email="carol@salesai.test", first_name="Carol")
    RepProfile.objects.create(user=user, time_zone="Europe/Berlin", digest_hour=8)
    return user


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://sales.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _new_rec(owner, *, at, **kwargs) -> Recommendation:
    return RecommendationFactory(account=AccountFactory(owner=owner), created_at=at, updated_at=at, **kwargs)


# --- digest ---------------------------------------------------------------------------------------------


def test_digest_goes_out_at_the_reps_local_hour_once_per_day(rep):
    rec = _new_rec(rep, at=MORNING - dt.timedelta(hours=10), title="Acme looked at pricing", priority=70)

    with time_machine.travel(MORNING - dt.timedelta(minutes=1), tick=False):
        assert notifications.send_due_digests() == 0
    with time_machine.travel(MORNING + dt.timedelta(minutes=2), tick=False):
        assert notifications.send_due_digests() == 1
        assert notifications.send_due_digests() == 0
    with time_machine.travel(MORNING + dt.timedelta(hours=1), tick=False):
        assert notifications.send_due_digests() == 0

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carol@salesai.test"]
    assert message.subject == "1 new recommendation for you today"
    card = f"https://sales.example.com/recommendations/{rec.pk}/"
    assert card in message.body and "Acme looked at pricing" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and f'href="{card}"' in html
    rep.rep_profile.refresh_from_db()
    assert rep.rep_profile.last_digest_sent_on == MORNING.date()
    assert AuditEvent.objects.filter(action="rep.digest_sent", reference=f"user:{rep.pk}").count() == 1


def test_digest_next_day_goes_out_again(rep):
    _new_rec(rep, at=MORNING - dt.timedelta(hours=1))
    with time_machine.travel(MORNING, tick=False):
        notifications.send_due_digests()
    _new_rec(rep, at=MORNING + dt.timedelta(hours=5))
    with time_machine.travel(MORNING + dt.timedelta(days=1), tick=False):
        assert notifications.send_due_digests() == 1
    assert len(mail.outbox) == 2


def test_digest_catches_up_a_missed_run_but_not_in_the_evening(rep):
    _new_rec(rep, at=MORNING - dt.timedelta(hours=1))
    with time_machine.travel(MORNING + dt.timedelta(hours=9), tick=False):
        assert notifications.send_due_digests() == 0
    with time_machine.travel(MORNING + dt.timedelta(hours=2, minutes=30), tick=False):
        assert notifications.send_due_digests() == 1


def test_no_digest_without_new_recommendations_or_when_turned_off(rep):
    old = _new_rec(rep, at=MORNING - dt.timedelta(days=3))
    with time_machine.travel(MORNING, tick=False):
        assert notifications.send_due_digests() == 0
    assert mail.outbox == []

    old.delete()
    other = UserFactory(username="dave", email="dave@salesai.test")
    RepProfile.objects.create(user=other, digest_enabled=False, digest_hour=7)
    _new_rec(other, at=MORNING - dt.timedelta(hours=1))
    with time_machine.travel(MORNING, tick=False):
        assert notifications.send_due_digests() == 0
    assert mail.outbox == []


def test_digest_only_lists_the_reps_own_pending_recommendations(rep):
    mine = _new_rec(rep, at=MORNING - dt.timedelta(hours=2), title="Mine")
    _new_rec(rep, at=MORNING - dt.timedelta(hours=2), title="Done already", status=Recommendation.Status.EXECUTED)
    someone = UserFactory(username="erin", email="erin@salesai.test")
    RepProfile.objects.create(user=someone, digest_hour=23)
    _new_rec(someone, at=MORNING - dt.timedelta(hours=2), title="Erin's")

    with time_machine.travel(MORNING, tick=False):
        notifications.send_due_digests()

    (message,) = mail.outbox
    assert "Mine" in message.body and "Done already" not in message.body and "Erin" not in message.body
    assert f"/recommendations/{mine.pk}/" in message.body


def test_a_rep_without_preferences_gets_the_default_8_am_utc_digest():
    user = UserFactory(username="frank", email="frank@salesai.test")
    _new_rec(user, at=dt.datetime(2026, 11, 27, 3, tzinfo=dt.UTC))
    with time_machine.travel(dt.datetime(2026, 11, 27, 8, 5, tzinfo=dt.UTC), tick=False):
        assert notifications.send_due_digests() == 1
    assert RepProfile.objects.get(user=user).last_digest_sent_on == dt.date(2026, 11, 27)


def test_a_failed_send_releases_the_day_for_the_next_run(rep, settings):
    _new_rec(rep, at=MORNING - dt.timedelta(hours=1))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with time_machine.travel(MORNING, tick=False):
        with pytest.raises(OSError):
            notifications.send_digest(user=rep)
        rep.rep_profile.refresh_from_db()
        assert rep.rep_profile.last_digest_sent_on is None
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert notifications.send_due_digests() == 1


def test_the_beat_task_is_registered_under_its_scheduled_name(rep):
    _new_rec(rep, at=MORNING - dt.timedelta(hours=1))
    assert "recommendations.send_due_digests" in celery_app.tasks
    with time_machine.travel(MORNING, tick=False):
        celery_app.tasks["recommendations.send_due_digests"].delay()
    assert len(mail.outbox) == 1


# --- urgent notices --------------------------------------------------------------------------------------


def test_urgent_recommendation_notifies_its_owner_once(rep):
    rec = _new_rec(rep, at=clock.now(), priority=92, title="Globex is about to churn")

    assert notifications.notify_urgent(recommendation_id=rec.pk) is True
    assert notifications.notify_urgent(recommendation_id=rec.pk) is False

    (message,) = mail.outbox
    assert message.to == ["carol@salesai.test"]
    assert message.subject == "Urgent: Globex is about to churn"
    assert f"https://sales.example.com/recommendations/{rec.pk}/" in message.body
    assert "text/html" in [mimetype for _, mimetype in message.alternatives]


def test_speed_to_lead_is_urgent_whatever_its_priority(rep):
    rec = _new_rec(rep, at=clock.now(), priority=40, action_type=ActionType.SPEED_TO_LEAD)
    assert notifications.notify_urgent(recommendation_id=rec.pk) is True


def test_no_notice_for_ordinary_closed_or_missing_recommendations_or_when_opted_out(rep):
    ordinary = _new_rec(rep, at=clock.now(), priority=60)
    closed = _new_rec(rep, at=clock.now(), priority=95, status=Recommendation.Status.REJECTED)
    assert notifications.notify_urgent(recommendation_id=ordinary.pk) is False
    assert notifications.notify_urgent(recommendation_id=closed.pk) is False
    assert notifications.notify_urgent(recommendation_id=999_999) is False

    RepProfile.objects.filter(user=rep).update(urgent_notices_enabled=False)
    urgent = _new_rec(rep, at=clock.now(), priority=99)
    assert notifications.notify_urgent(recommendation_id=urgent.pk) is False
    assert mail.outbox == []


def test_notify_urgent_task_is_registered_for_the_engine(rep):
    rec = _new_rec(rep, at=clock.now(), priority=90)
    assert "recommendations.notify_urgent" in celery_app.tasks
    celery_app.tasks["recommendations.notify_urgent"].delay(rec.pk)
    assert len(mail.outbox) == 1


# --- a real SMTP server on loopback ------------------------------------------------------------------------


def test_urgent_notice_and_digest_reach_a_real_smtp_server(rep, smtp_server):
    rec = _new_rec(rep, at=MORNING - dt.timedelta(hours=1), priority=90, title="Initech wants a demo today")

    assert notifications.notify_urgent(recommendation_id=rec.pk)
    with time_machine.travel(MORNING, tick=False):
        assert notifications.send_due_digests() == 1

    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["carol@salesai.test"], ["carol@salesai.test"]]
    urgent = smtp_server.envelopes[0].content.decode()
    assert "Subject: Urgent: Initech wants a demo today" in urgent
    assert "multipart/alternative" in urgent and "text/html" in urgent
    assert f"https://sales.example.com/recommendations/{rec.pk}/" in urgent


# --- preferences page ----------------------------------------------------------------------------------------


def test_preferences_page_saves_the_choices(client, rep):
    client.force_login(rep)
    url = reverse("recommendations:preferences")
    assert "Morning digest at" in client.get(url).content.decode()

    response = client.post(
        url, {"time_zone": "America/New_York", "digest_enabled": "on", "digest_hour": "7", "urgent_notices_enabled": ""}
    )

    assert response.status_code == 302
    profile = RepProfile.objects.get(user=rep)
    assert (profile.time_zone, profile.digest_enabled, profile.digest_hour, profile.urgent_notices_enabled) == (
        "America/New_York",
        True,
        7,
        False,
    )
    assert AuditEvent.objects.filter(action="rep_profile.updated", actor=rep).exists()


def test_preferences_reject_an_unknown_time_zone(client, rep):
    client.force_login(rep)
    response = client.post(reverse("recommendations:preferences"), {"time_zone": "Mars/Olympus", "digest_hour": "8"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert RepProfile.objects.get(user=rep).time_zone == "Europe/Berlin"
