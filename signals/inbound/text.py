"""The person's own words: HTML to text, quoted history and signatures stripped (mail-parser-reply,
several languages)."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

from signals.inbound.message import InboundEmail

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 20_000
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]


class _HTMLText(HTMLParser):
    """Visible text of an HTML body, without quoted history (blockquote, Gmail/Outlook quote blocks)."""

    _SKIP = {"script", "style", "head", "title", "blockquote"}
    _QUOTE_MARKERS = ("gmail_quote", "yahoo_quoted", "divrplyfwdmsg", "moz-cite-prefix", "protonmail_quote")
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.stopped = False

    def handle_starttag(self, tag, attrs):
        if self.stopped:
            return
        marker = " ".join(str(v).lower() for k, v in attrs if k in {"class", "id"} and v)
        skip = tag in self._SKIP or any(m in marker for m in self._QUOTE_MARKERS)
        if tag in {"br", "hr", "img", "meta", "link", "input"}:
            if tag == "br":
                self.parts.append("\n")
            if tag == "hr" and not self.skip_depth:
                self.stopped = True  # Outlook puts the quoted history under a rule
            return
        self.stack.append((tag, skip))
        if skip:
            self.skip_depth += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, skipped = self.stack.pop()
            if skipped:
                self.skip_depth -= 1
            if open_tag == tag:
                break
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip_depth and not self.stopped:
            self.parts.append(data)


_HTML_CHUNK = 64_000


def html_to_text(html: str, *, limit: int | None = None) -> str:
    """The visible text of an HTML body. With ``limit``, reading stops once that much text was seen
    (a multi-megabyte body costs no more than its first screens); a huge invisible head (styles,
    quoted blocks) is still read through, so the reply behind it is not lost."""
    parser = _HTMLText()
    html = html or ""
    try:
        for start in range(0, len(html), _HTML_CHUNK):
            parser.feed(html[start : start + _HTML_CHUNK])
            if parser.stopped or (limit is not None and sum(map(len, parser.parts)) >= limit):
                break
        parser.close()
    except Exception:  # noqa: BLE001 — malformed HTML still yields what was read
        logger.debug("html_to_text: malformed HTML")
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t\xa0]+", " ", text)).strip()


def strip_reply(text: str) -> str:
    """The newest reply of a plain-text body: quoted history, reply headers and signature removed.

    mail-parser-reply recognises the "On … wrote:" / "Am … schrieb:" / Outlook header blocks of
    several languages and ``>`` quotes; its first fragment without the signature is the reply."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        message = EmailReplyParser(languages=REPLY_LANGUAGES).read(text)
    except Exception:  # noqa: BLE001 — a parser failure must not lose the e-mail
        logger.warning("mail-parser-reply failed; keeping the full text", exc_info=True)
        return text
    replies = [r for r in message.replies if (r.body or "").strip()]
    if not replies:
        return (message.latest_reply or "").strip()
    body = replies[0].body.strip()
    if _all_quoted(body):
        return ""
    return body


def _all_quoted(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and all(line.lstrip().startswith(">") for line in lines)


def reply_text_of(email: InboundEmail) -> str:
    """The person's own words: the de-quoted plain text, else the de-quoted HTML, else the provider's.

    The body is cut to ``MAX_TEXT_CHARS`` *before* quotes and signatures are looked for: the newest
    reply is at the top, and the parser's cost grows with everything below it."""
    plain = email.text.strip()[:MAX_TEXT_CHARS]
    if plain:
        text = strip_reply(plain)
    else:
        text = strip_reply(html_to_text(email.html, limit=MAX_TEXT_CHARS)[:MAX_TEXT_CHARS])
    if not text and email.provider_stripped_text:
        text = email.provider_stripped_text.strip()
    return text[:MAX_TEXT_CHARS]
