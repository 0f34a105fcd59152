"""A website's own page sends Segment calls to salesai from the browser, as analytics.js does: from
another origin, as ``text/plain`` JSON with the write key in the body (a "simple" request, no CORS
preflight), or as ``application/json`` with HTTP Basic (preflighted). Real headless Chromium."""

from __future__ import annotations

import base64
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from signals.models import Signal
from signals.tests.helpers import make_source

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # playwright's sync API runs an event loop

pytestmark = pytest.mark.browser

SEND = """
async ([api, key]) => {
  const simple = await fetch(api + "/v1/page", {
    method: "POST",
    headers: {"Content-Type": "text/plain"},
    body: JSON.stringify({writeKey: key, anonymousId: "visitor-1", messageId: "m-simple",
                          properties: {path: "/pricing", url: "https://site.example/pricing"}}),
  });
  const preflighted = await fetch(api + "/v1/track", {
    method: "POST",
    headers: {"Content-Type": "application/json", "Authorization": "Basic " + btoa(key + ":")},
    body: JSON.stringify({anonymousId: "visitor-1", event: "Demo Requested", messageId: "m-json"}),
  });
  return [simple.status, await simple.json(), preflighted.status, await preflighted.json()];
}
"""


class _Site(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"<!doctype html><html lang='en'><title>A customer's website</title><p>Hello</p></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def website():
    """The customer's website: another origin (127.0.0.1 on its own port) than salesai's live server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def browser_page(chromium):
    """A page of the one shared Chromium (the root conftest's ``chromium``)."""
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def test_a_websites_browser_sends_segment_calls_across_origins(browser_page, website, live_server):
    _, key = make_source("website")
    browser_page.goto(website)
    simple_status, simple, json_status, preflighted = browser_page.evaluate(SEND, [live_server.url, key])
    assert (simple_status, simple["stored"]) == (200, 1)
    assert (json_status, preflighted["stored"]) == (200, 1)
    assert set(Signal.objects.values_list("external_id", flat=True)) == {"m-simple", "m-json"}


@pytest.mark.django_db
def test_cors_answers_only_the_tracking_api(client):
    """Other endpoints (the inbox, the API a rep's session opens) answer no CORS headers at all."""
    preflight = {"HTTP_ORIGIN": "https://site.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}
    tracking = client.options("/v1/track", **preflight)
    assert tracking["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in tracking
    for path in ("/api/v1/recommendations", "/api/v1/signals", "/login/"):
        assert "Access-Control-Allow-Origin" not in client.options(path, **preflight), path


@pytest.mark.django_db
def test_text_plain_json_is_read_but_other_types_are_not(client):
    _, key = make_source("website")
    auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    body = '{"anonymousId": "a", "event": "X", "messageId": "t-1"}'
    assert client.post("/v1/track", body, content_type="text/plain", **auth).status_code == 200
    refused = client.post("/v1/track", body, content_type="text/html", **auth)
    assert refused.status_code == 415 and "Content-Type" in refused.json()["error"]["fields"]
