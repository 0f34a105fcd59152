"""Text from outside made safe to keep on one line: names, titles, subjects.

Anything a webhook, an inbound e-mail or a browser sends can end up in a draft's subject or first
line. A line break there (RFC 2047 encoded words decode to one) would start a header or a paragraph
the sender chose, so every such value goes through :func:`single_line` when it is stored (DESIGN.md §7).
"""

from __future__ import annotations

import re
import unicodedata

# Cc: C0/C1 controls (CR, LF, TAB, NUL, ESC …); Cf: invisible format characters, among them the
# bidirectional overrides that make "moc.evil" read as "live.com"; Zl/Zp: U+2028/U+2029 line and
# paragraph separators. Each becomes a space (so words stay apart), then runs of spaces collapse.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_SPACES = re.compile(r"\s+")


def _is_unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def single_line(value: object, *, max_length: int | None = None) -> str:
    """``value`` as one line of visible text: control, format and separator characters become spaces,
    whitespace runs collapse, the ends are trimmed, then it is cut to ``max_length``. Non-strings give
    ``""``."""
    if not isinstance(value, str):
        return ""
    if value.isascii() and value.isprintable():
        text = value
    else:
        text = "".join(" " if _is_unsafe(char) else char for char in value)
    text = _SPACES.sub(" ", text).strip()
    if max_length is not None and len(text) > max_length:
        text = text[:max_length].rstrip()
    return text


def has_line_break(value: str) -> bool:
    """Whether ``value`` holds anything :func:`single_line` would remove (for refusing, not cleaning)."""
    return any(char in "\r\n\t\v\f" or _is_unsafe(char) for char in value)
