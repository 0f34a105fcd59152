"""Drafts: rendered from templates, and optionally polished by an OpenAI-compatible endpoint — a real
HTTP server on loopback that speaks the chat-completions shape."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recommendations.services import drafts
from recommendations.services.drafts import Draft
from recommendations.tests.factories import RecommendationFactory


class FakeLLM:
    """A chat-completions server: answers with ``reply`` (or sleeps / errors) and records requests."""

    def __init__(self, reply: str = "", status: int = 200, delay: float = 0.0):
        self.reply, self.status, self.delay, self.requests = reply, status, delay, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                outer.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                if outer.delay:
                    threading.Event().wait(outer.delay)
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": outer.reply}}]}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                try:
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout case)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm_settings(settings):
    def configure(url: str):
        settings.SALESAI = {**settings.SALESAI, "LLM_BASE_URL": url, "LLM_API_KEY": "sk-test", "LLM_MODEL": "tiny"}

    return configure


DRAFT = Draft("Plans for Acme", "Hi Dana,\n\nA short note.\n")


def test_llm_is_off_by_default(settings):
    assert not drafts.llm_enabled()
    assert drafts.rewrite_with_llm(DRAFT) is DRAFT


def test_llm_rewrites_the_draft_through_chat_completions(llm_settings):
    with FakeLLM(reply=json.dumps({"subject": "A plan for Acme", "body": "Hi Dana, a quick idea."})) as llm:
        llm_settings(llm.url)
        result = drafts.rewrite_with_llm(DRAFT, facts_note="Acme visited pricing 3 times")
    assert result == Draft("A plan for Acme", "Hi Dana, a quick idea.\n")
    request = llm.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "tiny"
    assert "never mention tracking" in request["body"]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("server", "timeout"),
    [
        (FakeLLM(reply="not json at all"), 5),
        (FakeLLM(reply=json.dumps({"subject": "x"})), 5),
        (FakeLLM(reply="{}", status=500), 5),
        (FakeLLM(reply=json.dumps({"subject": "late", "body": "late"}), delay=1.0), 0.2),
    ],
    ids=["garbage", "missing-body", "server-error", "timeout"],
)
def test_llm_failures_keep_the_template_draft(llm_settings, server, timeout):
    with server:
        llm_settings(server.url)
        assert drafts.rewrite_with_llm(DRAFT, timeout=timeout) is DRAFT


def test_unreachable_llm_keeps_the_template_draft(llm_settings):
    llm_settings("http://127.0.0.1:9")  # discard port: connection refused
    assert drafts.rewrite_with_llm(DRAFT, timeout=1) is DRAFT


@pytest.mark.django_db
def test_polish_task_rewrites_only_the_version_it_was_queued_for(llm_settings):
    rec = RecommendationFactory(version=2)
    with FakeLLM(reply=json.dumps({"subject": "Polished", "body": "Polished body"})) as llm:
        llm_settings(llm.url)
        assert drafts.polish_recommendation_draft(recommendation_id=rec.pk, version=1) is False
        assert drafts.polish_recommendation_draft(recommendation_id=rec.pk, version=2) is True
    rec.refresh_from_db()
    assert (rec.draft_subject, rec.draft_body) == ("Polished", "Polished body\n")
    assert rec.reasoning.startswith(rec.account.name)  # the evidence and reasoning are never the LLM's


@pytest.mark.django_db
def test_analysis_queues_the_polish_after_commit(llm_settings, django_capture_on_commit_callbacks):
    import datetime as dt

    import time_machine

    from accounts.tests.factories import AccountFactory, ContactFactory
    from recommendations.models import Recommendation
    from signals.storing import record_signal
    from signals.tests.factories import SourceFactory

    account = AccountFactory(name="Acme", domain="acme.com")
    dana = ContactFactory(account=account, name="Dana Lee", email="dana@acme.com")
    when = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)
    with FakeLLM(reply=json.dumps({"subject": "Your demo", "body": "Hi Dana, when suits you?"})) as llm:
        llm_settings(llm.url)
        with time_machine.travel(when, tick=False), django_capture_on_commit_callbacks(execute=True):
            record_signal(
                source=SourceFactory(name="web"),
                kind="form_submitted",
                external_id="f1",
                occurred_at=when,
                contact=dana,
                name="Demo Requested",
            )
    rec = Recommendation.objects.get(account=account)
    assert (rec.draft_subject, rec.draft_body) == ("Your demo", "Hi Dana, when suits you?\n")
    assert "Dana Lee submitted “Demo Requested”" in rec.reasoning
    assert len(llm.requests) == 1


@pytest.mark.django_db
def test_a_recommendation_whose_rewrite_never_came_is_routed_by_the_sweep(llm_settings):
    import datetime as dt

    from recommendations.models import Recommendation
    from recommendations.services.analysis import POLISH_GRACE, route_unpolished
    from salesai import clock

    llm_settings("http://127.0.0.1:9")  # the task was lost; nothing answers either
    waiting = RecommendationFactory(awaiting_polish=True, updated_at=clock.now() - POLISH_GRACE)
    fresh = RecommendationFactory(awaiting_polish=True, action_type="re_engage", playbook="going_dark")
    assert route_unpolished(now=clock.now()) == 1
    waiting.refresh_from_db()
    assert waiting.trust_decision is not None and not waiting.awaiting_polish
    assert waiting.status == Recommendation.Status.PENDING  # no track record yet: a person decides
    assert Recommendation.objects.get(pk=fresh.pk).awaiting_polish  # still inside its grace
    assert route_unpolished(now=clock.now() + dt.timedelta(minutes=10)) == 1


# --- issue 14, finding 6: drafts sound like the rep and use the evidence -------------------------------


@pytest.mark.django_db
def test_a_draft_ends_with_the_reps_own_signature_and_names_the_plan_viewed():
    from types import SimpleNamespace

    from accounts.models import Contact, RepProfile
    from accounts.tests.factories import UserFactory

    rep = UserFactory(first_name="Maya", last_name="Chen")
    RepProfile.objects.create(user=rep, signature="Maya Chen\nAccount Executive\x07, salesai")
    draft = drafts.render_draft(
        finding=SimpleNamespace(action_type="pricing_outreach", draft_context={"plan": "Enterprise", "visits": 4}),
        facts=SimpleNamespace(account_name="Acme"),
        account=SimpleNamespace(owner=rep),
        contact=Contact(name="Ines Moreau", email="ines@acme.example"),
    )
    assert draft.body.startswith("Hi Ines,\n")
    assert "If the Enterprise plan is the one you're weighing" in draft.body
    assert draft.body.rstrip().endswith("Best,\nMaya Chen\nAccount Executive, salesai")  # the bell is gone


@pytest.mark.django_db
def test_without_a_signature_the_draft_is_signed_with_the_reps_name():
    from types import SimpleNamespace

    from accounts.models import Contact
    from accounts.tests.factories import UserFactory

    rep = UserFactory(first_name="Tom", last_name="Becker")
    draft = drafts.render_draft(
        finding=SimpleNamespace(action_type="renewal_outreach", draft_context={"renewal_date": "14 Jan"}),
        facts=SimpleNamespace(account_name="Acme"),
        account=SimpleNamespace(owner=rep),
        contact=Contact(name="Ines Moreau", email="ines@acme.example"),
    )
    assert "renewal on 14 Jan" in draft.body and draft.body.rstrip().endswith("Tom Becker")


def test_the_plan_viewed_comes_from_the_pricing_paths():
    import datetime as dt

    from recommendations.playbooks.base import SignalFact
    from recommendations.playbooks.pricing_interest import plan_viewed

    when = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    paths = ["/pricing/enterprise", "/pricing/enterprise?x=1", "/pricing/team", "/pricing"]
    visits = [SignalFact(id=i, kind="page_view", occurred_at=when, path=p) for i, p in enumerate(paths)]
    assert plan_viewed(visits) == "Enterprise"
    assert plan_viewed(visits[-1:]) == ""
    compare = [SignalFact(id=9, kind="page_view", occurred_at=when, path="/pricing/compare")]
    assert plan_viewed(compare) == ""  # a comparison page is not a plan


@pytest.mark.django_db
def test_a_person_without_a_signature_is_asked_for_one_at_login(client):
    from django.contrib.messages import get_messages

    from accounts.models import RepProfile
    from accounts.tests.factories import UserFactory
    from recommendations.receivers import SIGNATURE_PROMPT

    rep = UserFactory(username="newbie")
    response = client.post("/login/", {"username": "newbie", "password": "correct horse battery staple"})
    assert SIGNATURE_PROMPT in [str(m) for m in get_messages(response.wsgi_request)]
    RepProfile.objects.update_or_create(user=rep, defaults={"signature": "Newbie"})
    client.logout()
    response = client.post("/login/", {"username": "newbie", "password": "correct horse battery staple"})
    assert SIGNATURE_PROMPT not in [str(m) for m in get_messages(response.wsgi_request)]
