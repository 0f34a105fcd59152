"""A table of malformed requests for every ingestion endpoint: never a 500, always a specific 4xx
in the error shape of DESIGN.md §4 naming the field."""

from __future__ import annotations

import gzip
import json

import pytest

from accounts.tests.factories import ManagerFactory
from signals.models import Signal
from signals.tests.helpers import basic, make_source, signed_headers

pytestmark = pytest.mark.django_db

SEGMENT_SINGLE = ["/v1/track", "/v1/page", "/v1/screen", "/v1/identify", "/v1/group", "/v1/alias"]
VALID_CALL = {
    "/v1/track": {"userId": "u", "event": "Feature Used"},
    "/v1/page": {"anonymousId": "a"},
    "/v1/screen": {"anonymousId": "a"},
    "/v1/identify": {"userId": "u", "traits": {"email": "a@acme.com"}},
    "/v1/group": {"userId": "u", "groupId": "g"},
    "/v1/alias": {"userId": "u", "previousId": "p"},
}
REQUIRED = {"/v1/track": "event", "/v1/group": "groupId", "/v1/alias": "previousId"}


def j(data) -> bytes:
    return json.dumps(data).encode()


def with_(path, **changes):
    return j({**VALID_CALL[path], **changes})


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# (name, body bytes, extra headers, status, code, field)
def segment_single_cases(path: str):
    cases = [
        ("invalid json", b'{"userId": ', {}, 400, "invalid_json", "body"),
        ("empty body", b"", {}, 400, "invalid_json", "body"),
        ("array body", b"[]", {}, 400, "invalid_body", "body"),
        ("string body", b'"hello"', {}, 400, "invalid_body", "body"),
        ("NaN", b'{"userId": "u", "event": "x", "properties": {"v": NaN}}', {}, 400, "invalid_json", "body"),
        ("NUL in string", with_(path, properties={"v": "a\x00b"}), {}, 400, "invalid_json", "body.properties.v"),
        ("lone surrogate", b'{"userId": "u", "event": "x", "name": "\\ud800"}', {}, 400, "invalid_json", "body.name"),
        ("deep nesting", nested(10_000), {}, 400, "too_deep", "body"),
        (
            "no user",
            j({k: v for k, v in json.loads(with_(path)).items() if k != "userId"} | {"anonymousId": None}),
            {},
            400,
            "missing_field",
            "userId",
        ),
        ("userId object", with_(path, userId={"a": 1}), {}, 400, "invalid_field", "userId"),
        ("userId bool", with_(path, userId=True), {}, 400, "invalid_field", "userId"),
        ("messageId too long", with_(path, messageId="m" * 300), {}, 400, "invalid_field", "messageId"),
        ("properties string", with_(path, properties="x"), {}, 400, "invalid_field", "properties"),
        ("traits list", with_(path, traits=[1]), {}, 400, "invalid_field", "traits"),
        ("context number", with_(path, context=5), {}, 400, "invalid_field", "context"),
        ("timestamp garbage", with_(path, timestamp="2026-13-45T99:00:00Z"), {}, 400, "invalid_timestamp", "timestamp"),
        ("timestamp number", with_(path, timestamp=1700000000), {}, 400, "invalid_timestamp", "timestamp"),
        (
            "timestamp far future",
            with_(path, timestamp="2999-01-01T00:00:00Z"),
            {},
            400,
            "invalid_timestamp",
            "timestamp",
        ),
        ("sentAt garbage", with_(path, sentAt="yesterday"), {}, 400, "invalid_timestamp", "sentAt"),
        ("wrong type for endpoint", with_(path, type="bogus"), {}, 400, "invalid_type", "type"),
        ("over 32 KB", with_(path, properties={"x": "y" * 33_000}), {}, 413, "payload_too_large", "body"),
        ("bad gzip", b"\x1f\x8b\x08 not gzip at all", {"HTTP_CONTENT_ENCODING": "gzip"}, 400, "invalid_gzip", "body"),
        (
            "truncated gzip",
            gzip.compress(with_(path))[:-12],
            {"HTTP_CONTENT_ENCODING": "gzip"},
            400,
            "invalid_gzip",
            "body",
        ),
        ("brotli", with_(path), {"HTTP_CONTENT_ENCODING": "br"}, 415, "unsupported_encoding", "Content-Encoding"),
        ("non-UTF-8", b'{"userId": "\xff\xfe", "event": "x"}', {}, 400, "invalid_encoding", "body"),
        (
            "form encoded",
            b"userId=u&event=x",
            {"content_type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
        # text/plain is accepted on /v1/* (analytics.js sends its JSON so); other types are not
        ("text/html", with_(path), {"content_type": "text/html"}, 415, "unsupported_media_type", "Content-Type"),
    ]
    if path in REQUIRED:
        field = REQUIRED[path]
        cases.append((f"missing {field}", with_(path, **{field: None}), {}, 400, "missing_field", field))
        cases.append((f"{field} list", with_(path, **{field: ["x"]}), {}, 400, "invalid_field", field))
    return [pytest.param(path, *case, id=f"{path}-{case[0]}") for case in cases]


BATCH_CASES = [
    ("invalid json", b'{"batch": [', {}, 400, "invalid_json", "body"),
    ("no batch", j({"sentAt": "2026-11-26T10:00:00Z"}), {}, 400, "invalid_batch", "batch"),
    ("batch not a list", j({"batch": {"type": "track"}}), {}, 400, "invalid_batch", "batch"),
    ("empty batch", j({"batch": []}), {}, 400, "invalid_batch", "batch"),
    ("item not an object", j({"batch": [5]}), {}, 400, "invalid_batch", "batch.0"),
    ("item without type", j({"batch": [{"userId": "u", "event": "x"}]}), {}, 400, "invalid_batch", "batch.0.type"),
    (
        "item unknown type",
        j({"batch": [{"type": "purchase", "userId": "u"}]}),
        {},
        400,
        "invalid_batch",
        "batch.0.type",
    ),
    ("item type number", j({"batch": [{"type": 3, "userId": "u"}]}), {}, 400, "invalid_batch", "batch.0.type"),
    (
        "item bad timestamp",
        j({"batch": [{"type": "track", "userId": "u", "event": "x", "timestamp": "noon"}]}),
        {},
        400,
        "invalid_batch",
        "batch.0.timestamp",
    ),
    (
        "batch sentAt garbage",
        j({"batch": [{"type": "page", "userId": "u"}], "sentAt": []}),
        {},
        400,
        "invalid_timestamp",
        "sentAt",
    ),
    (
        "over 500 KB",
        j({"batch": [{"type": "page", "userId": "u", "properties": {"x": "y" * 20_000}}] * 30}),
        {},
        413,
        "payload_too_large",
        "body",
    ),
    (
        "gzip over 500 KB",
        gzip.compress(j({"batch": [{"type": "page", "userId": "u", "properties": {"x": "y" * 600_000}}]})),
        {"HTTP_CONTENT_ENCODING": "gzip"},
        413,
        "payload_too_large",
        "body",
    ),
    (
        "item over 32 KB",
        j({"batch": [{"type": "page", "userId": "u", "properties": {"x": "y" * 40_000}}]}),
        {},
        400,
        "invalid_batch",
        "batch.0",
    ),
    ("deep nesting", nested(200_000), {}, 400, "too_deep", "body"),
    ("non-UTF-8", b'{"batch": [{"type": "page", "userId": "\xc3\x28"}]}', {}, 400, "invalid_encoding", "body"),
    ("xml", b"<batch/>", {"content_type": "application/xml"}, 415, "unsupported_media_type", "Content-Type"),
]


@pytest.mark.parametrize(
    ("path", "name", "body", "extra", "status", "code", "field"),
    [
        *[case for path in SEGMENT_SINGLE for case in segment_single_cases(path)],
        *[pytest.param("/v1/batch", *case, id=f"/v1/batch-{case[0]}") for case in BATCH_CASES],
    ],
)
def test_segment_endpoints_refuse_malformed_bodies(client, path, name, body, extra, status, code, field):
    source, key = make_source("site")
    extra = dict(extra)
    content_type = extra.pop("content_type", "application/json")
    response = client.post(path, body, content_type=content_type, HTTP_AUTHORIZATION=basic(key), **extra)
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert field in error["fields"], error
    assert not Signal.objects.exists()
    assert source.quarantined.count() >= 1  # refused for content from a known source: kept


def signals_cases():
    item = {"kind": "page_view", "occurred_at": "2026-11-26T10:00:00Z", "account_domain": "acme.com"}

    def w(**changes):
        return j({k: v for k, v in {**item, **changes}.items() if v is not None})

    return [
        ("invalid json", b'{"kind": ', 400, "invalid_json", "body"),
        ("empty", b"  ", 400, "invalid_json", "body"),
        ("scalar", b"5", 400, "invalid_body", "body"),
        ("empty list", b"[]", 400, "invalid_body", "body"),
        ("1001 items", j([item] * 1001), 400, "too_many_signals", "body"),
        (
            "NaN",
            b'{"kind": "page_view", "occurred_at": "2026-11-26T10:00:00Z", "properties": {"x": Infinity}}',
            400,
            "invalid_json",
            "body",
        ),
        ("missing kind", w(kind=None), 400, "missing_field", "kind"),
        ("unknown kind", w(kind="abducted"), 400, "invalid_field", "kind"),
        ("kind number", w(kind=7), 400, "invalid_field", "kind"),
        ("missing occurred_at", w(occurred_at=None), 400, "missing_field", "occurred_at"),
        ("bad occurred_at", w(occurred_at="31/12/2026"), 400, "invalid_timestamp", "occurred_at"),
        ("occurred_at number", w(occurred_at=1700000000), 400, "invalid_timestamp", "occurred_at"),
        ("properties list", w(properties=[1, 2]), 400, "invalid_field", "properties"),
        ("bad domain", w(account_domain="not a domain"), 400, "invalid_field", "account_domain"),
        ("domain number", w(account_domain=42), 400, "invalid_field", "account_domain"),
        ("bad email", w(account_domain=None, contact_email="nobody"), 400, "invalid_field", "contact_email"),
        ("no identity", w(account_domain=None), 400, "missing_field", "account_domain"),
        ("name too long", w(name="n" * 300), 400, "invalid_field", "name"),
        ("external_id object", w(external_id={"a": 1}), 400, "invalid_field", "external_id"),
        ("list of junk", j([1, "x"]), 400, "invalid_signals", "0"),
        ("list item bad", j([{**item, "kind": "x"}]), 400, "invalid_signals", "0.kind"),
        ("NUL", w(name="a\x00"), 400, "invalid_json", "body.name"),
    ]


@pytest.mark.parametrize(
    ("name", "body", "status", "code", "field"), [pytest.param(*c, id=c[0]) for c in signals_cases()]
)
def test_signed_signals_endpoint_refuses_malformed_bodies(client, name, body, status, code, field):
    source, _ = make_source("forms", kind="generic")
    response = client.post(
        "/api/v1/signals", body, content_type="application/json", **signed_headers(source, body.decode())
    )
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert (error["code"], field in error["fields"]) == (code, True), error
    assert not Signal.objects.exists()


@pytest.mark.parametrize(
    ("name", "body", "extra", "status", "code", "field"),
    [
        ("non-UTF-8", b'{"kind": "\xff"}', {}, 400, "invalid_encoding", "body"),
        ("over 2 MB", b'{"x": "' + b"y" * (2 * 1024 * 1024) + b'"}', {}, 413, "payload_too_large", "body"),
        ("text/plain", b"{}", {"content_type": "text/plain"}, 415, "unsupported_media_type", "Content-Type"),
        ("bad gzip", b"\x1f\x8bxx", {"HTTP_CONTENT_ENCODING": "gzip"}, 400, "invalid_gzip", "body"),
    ],
)
def test_signed_signals_endpoint_refuses_unreadable_bodies(client, name, body, extra, status, code, field):
    source, _ = make_source("forms", kind="generic")
    extra = dict(extra)
    content_type = extra.pop("content_type", "application/json")
    headers = signed_headers(source, body.decode("utf-8", errors="replace"))
    response = client.post("/api/v1/signals", body, content_type=content_type, **headers, **extra)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and field in error["fields"]


CRM_CASES = [
    ("invalid json", b"[{", {}, 400, "invalid_json", "body"),
    ("non-UTF-8", b'[{"domain": "\xff"}]', {}, 400, "invalid_json", "body"),
    ("text/plain", b"[]", {"content_type": "text/plain"}, 415, "unsupported_media_type", "Content-Type"),
    ("empty list", b"[]", {}, 400, "invalid", "body"),
    ("scalar", b"7", {}, 400, "invalid", "body"),
    ("missing domain", j([{"name": "Acme"}]), {}, 400, "invalid", "0.domain"),
    ("bad domain", j([{"domain": "localhost"}]), {}, 400, "invalid", "0.domain"),
    ("arr text", j([{"domain": "acme.com", "arr": "lots"}]), {}, 400, "invalid", "0.arr"),
    ("arr negative", j([{"domain": "acme.com", "arr": -5}]), {}, 400, "invalid", "0.arr"),
    ("unknown owner", j([{"domain": "acme.com", "owner": "ghost"}]), {}, 400, "invalid", "0.owner"),
    ("unknown segment", j([{"domain": "acme.com", "segment": "huge"}]), {}, 400, "invalid", "0.segment"),
    ("strategic text", j([{"domain": "acme.com", "strategic": "maybe"}]), {}, 400, "invalid", "0.strategic"),
    ("contacts not a list", j([{"domain": "acme.com", "contacts": "a@acme.com"}]), {}, 400, "invalid", "0.contacts"),
    (
        "bad contact email",
        j([{"domain": "acme.com", "contacts": [{"email": "x"}]}]),
        {},
        400,
        "invalid",
        "0.contacts.0.email",
    ),
    (
        "contract without renewal",
        j([{"domain": "acme.com", "contracts": [{"external_id": "c", "value": 1}]}]),
        {},
        400,
        "invalid",
        "0.contracts.0.renewal_date",
    ),
    (
        "contract bad date",
        j([{"domain": "acme.com", "contracts": [{"external_id": "c", "value": 1, "renewal_date": "soon"}]}]),
        {},
        400,
        "invalid",
        "0.contracts.0.renewal_date",
    ),
    (
        "opportunity without id",
        j([{"domain": "acme.com", "opportunities": [{"amount": 5}]}]),
        {},
        400,
        "invalid",
        "0.opportunities.0.external_id",
    ),
    ("second record bad", j([{"domain": "acme.com"}, {"domain": "b.com", "arr": []}]), {}, 400, "invalid", "1.arr"),
]


@pytest.mark.parametrize(
    ("name", "body", "extra", "status", "code", "field"), [pytest.param(*c, id=c[0]) for c in CRM_CASES]
)
def test_crm_endpoint_refuses_malformed_bodies(client, name, body, extra, status, code, field):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=ManagerFactory())
    extra = dict(extra)
    content_type = extra.pop("content_type", "application/json")
    response = client.post(
        "/api/v1/crm/accounts", body, content_type=content_type, HTTP_AUTHORIZATION=f"Token {token.key}", **extra
    )
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == code and field in error["fields"], error
