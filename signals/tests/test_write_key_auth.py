"""One write-key authenticator: the same ``Authorization`` header gets the same answer at the Segment
endpoints, the signed endpoint and the inbound e-mail endpoint; each doorway keeps its own rule of
which kinds of source it opens to and its own codes."""

from __future__ import annotations

import base64

import pytest

from signals.auth import WriteKeyRefused, basic_write_key
from signals.models import Signal, Source
from signals.tests.helpers import dumps, make_source, signed_headers
from signals.tests.inbound_helpers import outreach, sendgrid_payload  # noqa: F401 — pytest finds the fixture

pytestmark = pytest.mark.django_db


def _basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _segment(client, authorization: str | None, **body):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    call = {"userId": "u", "event": "Demo Requested", "messageId": f"m-{len(body)}-{authorization}", **body}
    return client.post("/v1/track", dumps(call), content_type="application/json", **extra)


def _signed(client, source: Source, authorization: str | None):
    body = dumps({"kind": "custom", "occurred_at": "2026-11-26T10:00:00Z", "account_domain": "acme.com"})
    headers = signed_headers(source, body)
    headers.pop("HTTP_WEBHOOK_SOURCE")
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization
    return client.post("/api/v1/signals", body, content_type="application/json", **headers)


def _inbound(client, authorization: str | None, message_id: str = "<reply-auth@acme.com>"):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return client.post("/api/v1/inbound/email", sendgrid_payload(text="Yes", message_id=message_id), **extra)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Basic c2tfYWJj", "sk_abc"),  # no password part at all
        (_basic("sk_abc", "ignored"), "sk_abc"),
        (_basic("  sk_abc "), "sk_abc"),  # padded: the user name is stripped
        ("basic " + base64.b64encode(b"sk_abc:").decode(), "sk_abc"),  # the scheme is case-insensitive
        (_basic(""), None),  # an empty user name presents no key
        ("Bearer sk_abc", None),  # another scheme presents no Basic credentials
        ("", None),
    ],
)
def test_one_parser_reads_the_write_key_of_a_basic_header(rf, header, key):
    request = rf.post("/", HTTP_AUTHORIZATION=header) if header else rf.post("/")
    assert basic_write_key(request) == key


@pytest.mark.parametrize("header", ["Basic %%%", "Basic " + base64.b64encode(b"\xff\xfe:").decode()])
def test_malformed_basic_credentials_are_refused_by_the_parser(rf, header):
    with pytest.raises(WriteKeyRefused) as refused:
        basic_write_key(rf.post("/", HTTP_AUTHORIZATION=header))
    assert refused.value.reason == "malformed"


def test_a_padded_write_key_opens_each_doorway_to_its_own_kind_of_source(client, outreach):  # noqa: F811
    """The inbound endpoint stripped the user name and the Segment endpoints did not: one header, two
    answers. Now every doorway reads it the same."""
    _, segment_key = make_source("website", kind=Source.Kind.SEGMENT)
    signed_source, signed_key = make_source("forms", kind=Source.Kind.GENERIC)
    _, email_key = make_source("mail", kind=Source.Kind.EMAIL)

    assert _segment(client, _basic(f" {segment_key} ")).status_code == 200
    assert _signed(client, signed_source, _basic(f" {signed_key} ")).status_code == 200
    assert _inbound(client, _basic(f" {email_key} ")).status_code == 201
    assert Signal.objects.count() == 4  # the outreach and one signal per doorway


def test_malformed_credentials_are_a_401_at_every_doorway(client):
    signed_source, _ = make_source("forms", kind=Source.Kind.GENERIC)
    for response in (
        _segment(client, "Basic %%%"),
        _signed(client, signed_source, "Basic %%%"),
        _inbound(client, "Basic %%%"),
    ):
        assert response.status_code == 401
    assert _segment(client, "Basic %%%").json()["error"]["code"] == "unauthorized"
    assert _inbound(client, "Basic %%%").json()["error"]["code"] == "not_authenticated"


def test_an_unknown_key_is_a_401_at_every_doorway_with_each_doorways_code(client):
    signed_source, _ = make_source("forms", kind=Source.Kind.GENERIC)
    unknown = _basic("sk_nobody_has_this")
    assert _segment(client, unknown).json()["error"]["code"] == "unauthorized"
    assert _signed(client, signed_source, unknown).json()["error"]["code"] == "unauthorized"
    response = _inbound(client, unknown)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_write_key"


def test_without_basic_credentials_each_doorway_looks_for_its_other_ways(client, outreach):  # noqa: F811
    """Another scheme is no Basic credentials: the Segment endpoints still take ``writeKey`` in the
    body, the signed endpoint its ``X-Source-Key``, and the inbound endpoint asks who is calling."""
    _, segment_key = make_source("website", kind=Source.Kind.SEGMENT)
    signed_source, signed_key = make_source("forms", kind=Source.Kind.GENERIC)
    assert _segment(client, "Bearer elsewhere", writeKey=segment_key).status_code == 200
    body = dumps({"kind": "custom", "occurred_at": "2026-11-26T10:00:00Z", "account_domain": "acme.com"})
    headers = {**signed_headers(signed_source, body), "HTTP_AUTHORIZATION": "Bearer elsewhere"}
    headers.pop("HTTP_WEBHOOK_SOURCE")
    headers["HTTP_X_SOURCE_KEY"] = signed_key
    assert client.post("/api/v1/signals", body, content_type="application/json", **headers).status_code == 200
    response = _inbound(client, "Bearer elsewhere")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


def test_each_doorway_opens_only_to_its_own_kind_of_source(client):
    _, email_key = make_source("mail", kind=Source.Kind.EMAIL)
    _, segment_key = make_source("website", kind=Source.Kind.SEGMENT)
    assert _segment(client, _basic(email_key)).status_code == 403
    response = _inbound(client, _basic(segment_key))
    assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_source_kind"


def test_a_deactivated_key_stops_working_at_once_in_this_process(client):
    """The lookup is remembered for a few seconds per process; a change to the source forgets it."""
    source, key = make_source("website", kind=Source.Kind.SEGMENT)
    assert _segment(client, _basic(key)).status_code == 200
    source.active = False
    source.save()
    assert _segment(client, _basic(key), messageId="after").status_code == 401
