"""signals.inbound.mailauth: the providers' verdict formats, and alignment with the From domain (no database)."""

from __future__ import annotations

import pytest

from signals.inbound.mailauth import (
    aligned,
    authentication_results_verdict,
    mailgun_verdict,
    parse_authentication_results,
    sendgrid_dkim_results,
    sendgrid_verdict,
)


@pytest.mark.parametrize(
    ("domain", "sender", "expected"),
    [
        ("acme.com", "jane@acme.com", True),
        ("mail.acme.com", "jane@acme.com", True),
        ("acme.com", "jane@eu.acme.com", True),
        ("acme.co.uk", "jane@shop.acme.co.uk", True),
        ("co.uk", "jane@acme.co.uk", False),  # a public suffix vouches for nobody
        ("acme.com.evil.net", "jane@acme.com", False),
        ("evil.net", "jane@acme.com", False),
        ("", "jane@acme.com", False),
        ("localhost", "jane@localhost", False),
    ],
)
def test_alignment_is_by_registrable_domain(domain, sender, expected):
    assert aligned(domain, sender) is expected


def test_sendgrid_dkim_field_lists_each_signing_domain():
    assert sendgrid_dkim_results("{@acme.com : pass, @sendgrid.info : fail}") == [
        ("acme.com", "pass"),
        ("sendgrid.info", "fail"),
    ]
    assert sendgrid_dkim_results("none") == [] == sendgrid_dkim_results("")


def test_sendgrid_any_aligned_passing_signature_verifies():
    verdict = sendgrid_verdict(
        spf="softfail", dkim="{@esp.net : pass, @acme.com : pass}", envelope_from="b@esp.net", from_email="j@acme.com"
    )
    assert verdict.verified and verdict.method == "dkim"


def test_sendgrid_unverified_detail_names_what_was_seen():
    verdict = sendgrid_verdict(
        spf="fail", dkim="{@evil.net : pass}", envelope_from="x@evil.net", from_email="j@acme.com"
    )
    assert not verdict.verified
    assert verdict.detail == "SendGrid: SPF fail for evil.net, DKIM evil.net pass"


def test_mailgun_needs_every_signature_aligned_and_every_verdict_pass():
    headers = [("X-Mailgun-Dkim-Check-Result", "Pass"), ("DKIM-Signature", "v=1; d=acme.com; s=a; b=x")]
    assert mailgun_verdict(headers=headers, envelope_from="", from_email="j@acme.com", signed=True).verified
    doubled = [*headers, ("X-Mailgun-Dkim-Check-Result", "Fail")]
    assert not mailgun_verdict(headers=doubled, envelope_from="", from_email="j@acme.com", signed=True).verified
    unsigned = mailgun_verdict(headers=headers, envelope_from="", from_email="j@acme.com", signed=False)
    assert not unsigned.verified


def test_authentication_results_parsing_drops_comments_and_reads_properties():
    authserv, results = parse_authentication_results(
        "mx.example.org (Postfix 3.8); dkim=pass (2048-bit key; unprotected) header.d=acme.com header.s=s1 "
        'header.b="Ab12"; spf=pass (sender IP is 203.0.113.7) smtp.mailfrom=jane@acme.com; dmarc=none'
    )
    assert authserv == "mx.example.org"
    assert results == [
        ("dkim", "pass", {"header.d": "acme.com", "header.s": "s1", "header.b": "Ab12"}),
        ("spf", "pass", {"smtp.mailfrom": "jane@acme.com"}),
        ("dmarc", "none", {}),
    ]


def test_authentication_results_are_ignored_unless_their_server_is_configured():
    headers = [("Authentication-Results", "mx.example.org; dmarc=pass header.from=acme.com")]
    assert authentication_results_verdict(headers=headers, from_email="j@acme.com", trusted_authserv_ids=[]) is None
    verdict = authentication_results_verdict(
        headers=headers, from_email="j@acme.com", trusted_authserv_ids=["MX.example.org"]
    )
    assert verdict.verified and verdict.method == "dmarc"


def test_authentication_results_dkim_identity_may_be_header_i():
    headers = [("Authentication-Results", "mx.example.org; dkim=pass header.i=@mail.acme.com")]
    verdict = authentication_results_verdict(
        headers=headers, from_email="j@acme.com", trusted_authserv_ids=["mx.example.org"]
    )
    assert verdict.verified and verdict.detail == "DKIM signature of mail.acme.com passed (mx.example.org)"
