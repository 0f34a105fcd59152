"""Is an inbound e-mail from who it says? The receiving provider's SPF/DKIM verdicts, aligned to From.

Anyone can put any address in ``From:``. What vouches for it is the provider that received the mail
for us: it checked SPF (the connecting server may send for the envelope sender's domain) and DKIM
(a signature of a domain covers the message). Neither names the ``From:`` domain by itself, so a
verdict counts only when its domain is *aligned* with the ``From:`` domain (the same registrable
domain, DMARC's relaxed alignment): otherwise anyone with a domain of their own passes SPF and DKIM
for it and writes ``From: ceo@acme.com``.

What is read, and when it is trusted (SECURITY.md, DESIGN.md §7):

- SendGrid Inbound Parse posts ``SPF`` (the result for the envelope sender, e.g. ``pass``) and
  ``dkim`` (``{@acme.com : pass, @esp.example : fail}``, one result per signing domain) as form
  fields of their own, beside the message, so a sender cannot write them. They are trusted because
  the post authenticated with the e-mail source's write key.
- A Mailgun route copies its verdicts into the message's headers (``X-Mailgun-Spf``,
  ``X-Mailgun-Dkim-Check-Result``) among the sender's own. They are read only from a post that
  carries a valid Mailgun signature, and only when every copy of the header says ``Pass`` (a sender
  who adds ``X-Mailgun-Spf: Pass`` next to Mailgun's ``Fail`` gets nothing). Mailgun reports one
  DKIM result for the whole message, so it counts only when every ``DKIM-Signature`` is of an
  aligned domain.
- ``Authentication-Results`` (RFC 8601) is any sender's to write. It is read only when its
  authserv-id is one the operator configured (``INBOUND_EMAIL_AUTHSERV_IDS``: the receiving server
  that stamps it and, as RFC 8601 §5 requires, removes copies claiming its id from incoming mail);
  of those the topmost, the one added last, counts. None is configured by default.

Pure functions: the inbound service passes what the provider posted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from signals.identity.domains import registrable_domain

HeaderPairs = Iterable[tuple[str, str]]


@dataclass(frozen=True)
class SenderVerdict:
    """Whether the ``From:`` address is vouched for, how (``method``), and a sentence a rep can read."""

    verified: bool
    method: str  # "dmarc", "dkim", "spf", "thread" or "none"
    detail: str

    def as_properties(self) -> dict:
        return {"sender_verified": self.verified, "verification_method": self.method, "verification": self.detail}


def aligned(domain: str, from_email: str) -> bool:
    """Relaxed alignment: ``domain`` (or an address at it) and the ``From:`` address share a registrable
    domain (``mail.acme.com`` signs for ``jane@acme.com``; ``acme.com.evil.example`` does not)."""
    own = registrable_domain(from_email)
    return own is not None and registrable_domain(domain) == own


def _domain_of(address: str) -> str:
    return address.strip().strip("<>").rpartition("@")[2].lower()


# --- SendGrid Inbound Parse ----------------------------------------------------------------------------

_SENDGRID_DKIM = re.compile(r"@([A-Za-z0-9.-]+)\s*:\s*([A-Za-z]+)")


def sendgrid_dkim_results(value: str) -> list[tuple[str, str]]:
    """``{@acme.com : pass, @esp.example : fail}`` → ``[("acme.com", "pass"), ("esp.example", "fail")]``."""
    return [(domain.lower().strip("."), result.lower()) for domain, result in _SENDGRID_DKIM.findall(value or "")]


def sendgrid_verdict(*, spf: str, dkim: str, envelope_from: str, from_email: str) -> SenderVerdict:
    """SendGrid's own ``dkim`` and ``SPF`` fields, each counted only for a domain aligned with From."""
    results = sendgrid_dkim_results(dkim)
    for domain, result in results:
        if result == "pass" and aligned(domain, from_email):
            return SenderVerdict(True, "dkim", f"DKIM signature of {domain} passed (SendGrid)")
    spf = (spf or "").strip().lower()
    envelope_domain = _domain_of(envelope_from) if envelope_from else ""
    if spf == "pass" and envelope_domain and aligned(envelope_domain, from_email):
        return SenderVerdict(True, "spf", f"SPF passed for {envelope_domain} (SendGrid)")
    signed = ", ".join(f"{domain} {result}" for domain, result in results) or "none"
    return SenderVerdict(
        False,
        "none",
        f"SendGrid: SPF {spf or 'missing'} for {envelope_domain or 'no envelope sender'}, DKIM {signed}",
    )


# --- Mailgun routes --------------------------------------------------------------------------------------

_DKIM_DOMAIN = re.compile(r"(?:^|;)\s*d\s*=\s*([^\s;]+)", re.IGNORECASE)


def _all_values(headers: HeaderPairs, name: str) -> list[str]:
    return [str(value).strip() for key, value in headers if str(key).strip().lower() == name]


def _unanimous_pass(values: list[str]) -> bool:
    return bool(values) and all(value.lower() == "pass" for value in values)


def mailgun_verdict(*, headers: HeaderPairs, envelope_from: str, from_email: str, signed: bool) -> SenderVerdict:
    """Mailgun's verdict headers of a signed route post (see the module docstring for the rules)."""
    if not signed:
        return SenderVerdict(False, "none", "Mailgun: the post is not signed, so its verdict headers are not trusted")
    headers = list(headers)
    dkim_results = _all_values(headers, "x-mailgun-dkim-check-result")
    signing_domains = [
        found.group(1).lower().strip(".")
        for value in _all_values(headers, "dkim-signature")
        if (found := _DKIM_DOMAIN.search(value))
    ]
    if (
        _unanimous_pass(dkim_results)
        and signing_domains
        and all(aligned(domain, from_email) for domain in signing_domains)
    ):
        return SenderVerdict(True, "dkim", f"DKIM signature of {signing_domains[0]} passed (Mailgun)")
    spf_results = _all_values(headers, "x-mailgun-spf")
    envelope_domain = _domain_of(envelope_from) if envelope_from else ""
    if _unanimous_pass(spf_results) and envelope_domain and aligned(envelope_domain, from_email):
        return SenderVerdict(True, "spf", f"SPF passed for {envelope_domain} (Mailgun)")
    return SenderVerdict(
        False,
        "none",
        f"Mailgun: SPF {'/'.join(spf_results) or 'missing'} for {envelope_domain or 'no envelope sender'}, "
        f"DKIM {'/'.join(dkim_results) or 'missing'} signed by {', '.join(signing_domains) or 'nobody'}",
    )


# --- Authentication-Results (RFC 8601) -----------------------------------------------------------------

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9-]+)\s*=\s*([a-z]+)\b(.*)$", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"\b([a-z]+)\.([a-z0-9-]+)\s*=\s*([^\s;]+)", re.IGNORECASE)


def parse_authentication_results(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """``"mx.example; dkim=pass header.d=acme.com; spf=fail smtp.mailfrom=x@y"`` →
    ``("mx.example", [("dkim", "pass", {"header.d": "acme.com"}), ("spf", "fail", {...})])``.

    Enough of RFC 8601 for verdicts: comments are dropped, the authserv-id is the first token, each
    ``;``-separated resinfo gives a method, a result and its ``ptype.property=value`` pairs."""
    text = value or ""
    for _ in range(3):  # comments may nest a little
        text = _COMMENT.sub(" ", text)
    authserv, *resinfos = text.split(";")
    results = []
    for resinfo in resinfos:
        found = _RESULT.match(resinfo)
        if not found:
            continue
        properties = {f"{p}.{n}".lower(): v.strip('"') for p, n, v in _PROPERTY.findall(found.group(3))}
        results.append((found.group(1).lower(), found.group(2).lower(), properties))
    return (authserv.split() or [""])[0].lower(), results


def authentication_results_verdict(
    *, headers: HeaderPairs, from_email: str, trusted_authserv_ids: Iterable[str]
) -> SenderVerdict | None:
    """The verdict of the topmost ``Authentication-Results`` a configured server stamped; None when
    there is none (nothing configured, or no such header)."""
    trusted = {str(authserv).strip().lower() for authserv in trusted_authserv_ids if str(authserv).strip()}
    if not trusted:
        return None
    for value in _all_values(headers, "authentication-results"):
        authserv, results = parse_authentication_results(value)
        if authserv not in trusted:
            continue
        for method, result, properties in results:
            if result != "pass":
                continue
            if method == "dmarc" and aligned(properties.get("header.from", ""), from_email):
                return SenderVerdict(True, "dmarc", f"DMARC passed ({authserv})")
            if method == "dkim":
                signer = properties.get("header.d") or _domain_of(properties.get("header.i", ""))
                if signer and aligned(signer, from_email):
                    return SenderVerdict(True, "dkim", f"DKIM signature of {signer} passed ({authserv})")
            if method == "spf":
                envelope = properties.get("smtp.mailfrom", "")
                envelope_domain = _domain_of(envelope) if "@" in envelope else envelope.lower()
                if envelope_domain and aligned(envelope_domain, from_email):
                    return SenderVerdict(True, "spf", f"SPF passed for {envelope_domain} ({authserv})")
        summary = ", ".join(f"{method} {result}" for method, result, _ in results) or "no results"
        return SenderVerdict(False, "none", f"{authserv}: {summary}, none aligned with the sender's domain")
    return None
