"""Is a visit a person's? Link scanners of mail gateways open every link of an e-mail seconds after
it arrives, pricing pages included; crawlers and monitoring scripts visit too. Their page views are
stored like any other (nothing accepted is lost) but flagged ``is_bot``, and analysis leaves them out:
a scanner's three clicks on /pricing are not a prospect weighing a purchase.

The user agent decides: CrawlerDetect's maintained list of bots, crawlers and HTTP libraries, plus the
mail-gateway scanners it does not name (below, and ``SALESAI["AUTOMATED_USER_AGENTS"]``). Scanners
that pass for a browser are caught later, by timing: the pricing playbook counts views of one visitor
seconds apart as one visit."""

from __future__ import annotations

import functools
import re

from crawlerdetect import CrawlerDetect
from django.conf import settings

#: E-mail security gateways whose link scanners CrawlerDetect 0.4 does not recognise.
MAIL_SCANNERS = (
    "proofpoint",
    "urldefense",
    "mimecast",
    "barracuda",
    "linkscanner",
    "safelinks",
    "forcepoint",
    "trendmicro",
    "sophos",
    "symantec",
    "messagelabs",
    "ironport",
    "cisco-esa",
    "fireeye",
    "trellix",
    "zscaler",
)


@functools.cache
def _detector() -> CrawlerDetect:
    return CrawlerDetect()


@functools.cache
def _extra_pattern(extra: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(re.escape(fragment.lower()) for fragment in (*MAIL_SCANNERS, *extra) if fragment))


def is_automated(user_agent: str | None) -> bool:
    """True for a bot's, crawler's, HTTP library's or mail scanner's user agent; False when absent
    (a server-side event without one is taken as the person's)."""
    if not user_agent or not isinstance(user_agent, str):
        return False
    return _classify(user_agent, tuple(settings.SALESAI.get("AUTOMATED_USER_AGENTS") or ()))


@functools.lru_cache(maxsize=8192)
def _classify(user_agent: str, extra: tuple[str, ...]) -> bool:
    """Cached: CrawlerDetect's pattern is costly per browser user agent, and a site's traffic
    comes from a few thousand distinct ones."""
    if _extra_pattern(extra).search(user_agent.lower()):
        return True
    return bool(_detector().isCrawler(user_agent))


def user_agent_of(properties: dict, context: dict | None = None) -> str:
    """The user agent a call carries: Segment's ``context.userAgent``, else ``properties.user_agent``."""
    for bag, key in ((context or {}, "userAgent"), (properties, "user_agent"), (properties, "userAgent")):
        value = bag.get(key) if isinstance(bag, dict) else None
        if isinstance(value, str) and value:
            return value[:1000]
    return ""
