"""The facts a reply to our outreach names: when to come back ("not now" → ``check_in_at``) and whom
to talk to instead (a referral). Pure functions of the text, in several languages."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from salesai.text import single_line

EMAIL_RE = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


@dataclass(frozen=True)
class Referral:
    name: str = ""
    email: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "email": self.email}


# --- "not now": when to come back -------------------------------------------------------------------

_MONTHS = {
    **{name.lower(): i for i, name in enumerate(calendar.month_name) if name},
    **{name.lower(): i for i, name in enumerate(calendar.month_abbr) if name},
    "sept": 9,
    # German, French, Spanish, Italian, Dutch (the ones that differ from English)
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "mai": 5, "juni": 6, "juli": 7, "oktober": 10, "dezember": 12,
    "janvier": 1, "février": 2, "mars": 3, "avril": 4, "juin": 6, "juillet": 7, "août": 8, "septembre": 9,
    "octobre": 10, "novembre": 11, "décembre": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7, "settembre": 9,
    "ottobre": 10, "dicembre": 12,
    "januari": 1, "februari": 2, "maart": 3, "mei": 5, "augustus": 8,
}  # fmt: skip
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a couple": 2, "couple of": 2,
    "a few": 3, "few": 3, "several": 3, "zwei": 2, "drei": 3, "vier": 4, "deux": 2, "trois": 3, "dos": 2, "tres": 3,
}  # fmt: skip
_MONTH_NAMES = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_NUM = r"(\d{1,2}|a couple of|a couple|couple of|a few|few|several|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|zwei|drei|vier|deux|trois|dos|tres)"
_UNIT = r"(days?|weeks?|months?|years?|quarters?|wochen|woche|monaten|monate|monat|semaines?|mois|semanas?|meses|mes)"
_CONTACT_VERB = re.compile(
    r"(?:ping|reach out|follow up|circle back|check in|check back|get back|contact|touch base|try (?:me )?again|"
    r"talk|revisit|reconnect|come back|write|email|e-mail|call|reach me|melden|recontact|reprendre contacto)",
    re.IGNORECASE,
)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * (quarter - 1) + 1, 1)


def _next_on_or_after(reference: date, month: int, day: int, year: int | None = None) -> date | None:
    try:
        if year:
            return date(year, month, day)
        candidate = date(reference.year, month, min(day, calendar.monthrange(reference.year, month)[1]))
        if candidate <= reference:
            candidate = date(reference.year + 1, month, min(day, calendar.monthrange(reference.year + 1, month)[1]))
        return candidate
    except ValueError:
        return None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return value + 2000 if value < 100 else value


_PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(rf"\bin\s+{_NUM}\s+{_UNIT}(?:'?\s*time)?|\b{_NUM}\s+{_UNIT}\s+from now|\bin\s+{_NUM}\s+{_UNIT}", re.I), "relative"),
    (re.compile(rf"\b(?:nach|à partir d[eu']|después de)?\s*(?:in|en|dans|tra)\s+{_NUM}\s+{_UNIT}", re.I), "relative"),
    (re.compile(r"\b(?:the )?week after next\b", re.I), "week_after_next"),
    (re.compile(r"\bnext (week|month|quarter|year|half)\b|\bnächste[nsm]? (woche|monat|quartal|jahr)\b|\ble (mois|trimestre) prochain\b|\bl'année prochaine\b|\bel (?:próximo|proximo) (mes|trimestre|año)\b", re.I), "next_unit"),
    (re.compile(r"\bend of (?:the |this )?(month|quarter|year)\b", re.I), "end_of"),
    (re.compile(r"\b(?:(early|mid|late|end of|beginning of|start of)[- ]?)?(?:the )?(q[1-4]|h[12])(?:\s*[/']?\s*(\d{2,4}))?\b", re.I), "quarter"),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({_MONTH_NAMES})\.?(?:,?\s+(\d{{4}}))?\b", re.I), "day_month"),
    (re.compile(rf"\b({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I), "month_day"),
    (re.compile(rf"\b(?:(early|mid|late|end of|beginning of|start of|after|until|till|past)[\s-]+|(?:in|from|around|by|im|en|au mois d'|a partir de|ab)\s+)({_MONTH_NAMES})\b(?:\s+(\d{{4}}))?", re.I), "month"),
    (re.compile(r"\b(?:after|once|past|beyond) (?:the )?(?:holidays|new year|christmas|holiday season|festive season)\b|\b(?:early|beginning of|start of) (?:the )?new year\b|\bnach den feiertagen\b|\baprès les fêtes\b", re.I), "new_year"),
    (re.compile(r"\b(early |beginning of |start of |after |late |end of )?(?:the |this |next )?(summer|fall|autumn|spring|winter)\b", re.I), "season"),
    (re.compile(r"\b(early|later|beginning of|start of|end of)? ?(?:next year|nächstes jahr)\b", re.I), "next_year"),
]  # fmt: skip

_SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}


def _resolve(kind: str, match: re.Match, reference: date) -> date | None:  # noqa: C901 — one branch per phrase kind
    g = match.groups()
    if kind == "relative":
        number_text = next((x for x in g if x is not None and not re.match(_UNIT + "$", x, re.I)), None)
        unit = next((x for x in g if x is not None and re.fullmatch(_UNIT, x, re.I)), None)
        if number_text is None or unit is None:
            return None
        n = int(number_text) if number_text.isdigit() else _NUMBERS.get(number_text.lower(), 1)
        unit = unit.lower()
        if unit.startswith(("day",)):
            return reference + timedelta(days=n)
        if unit.startswith(("week", "woche", "semaine", "semana")):
            return reference + timedelta(weeks=n)
        if unit.startswith(("month", "monat", "mois", "mes")):
            return _add_months(reference, n)
        if unit.startswith("quarter"):
            return _add_months(reference, 3 * n)
        if unit.startswith("year"):
            return _add_months(reference, 12 * n)
        return None
    if kind == "week_after_next":
        return reference + timedelta(days=7 - reference.weekday() + 7)
    if kind == "next_unit":
        unit = next(x for x in g if x).lower()
        if unit in {"week", "woche"}:
            return reference + timedelta(days=7 - reference.weekday())
        if unit in {"month", "monat", "mois", "mes"}:
            return _add_months(reference.replace(day=1), 1)
        if unit in {"quarter", "quartal", "trimestre"}:
            quarter = (reference.month - 1) // 3 + 1
            return _add_months(_quarter_start(reference.year, quarter), 3)
        if unit in {"year", "jahr", "año"}:
            return date(reference.year + 1, 1, 1)
        if unit == "half":
            return date(reference.year, 7, 1) if reference.month <= 6 else date(reference.year + 1, 1, 1)
        return None
    if kind == "end_of":
        unit = g[0].lower()
        if unit == "month":
            return reference.replace(day=calendar.monthrange(reference.year, reference.month)[1])
        if unit == "quarter":
            quarter = (reference.month - 1) // 3 + 1
            return _add_months(_quarter_start(reference.year, quarter), 3) - timedelta(days=1)
        return date(reference.year, 12, 31) if reference.month < 12 or reference.day < 31 else None
    if kind == "quarter":
        modifier, period, year_text = (g[0] or "").lower(), g[1].lower(), _year(g[2]) if g[2] else None
        if g[2] and len(g[2]) == 3:
            return None
        if period.startswith("h"):
            start_month, length = (1 if period == "h1" else 7), 6
        else:
            start_month, length = 3 * (int(period[1]) - 1) + 1, 3
        year = year_text or reference.year
        start = date(year, start_month, 1)
        if year_text is None and _add_months(start, length) <= reference:
            start = date(year + 1, start_month, 1)
        if modifier in {"mid"}:
            return _add_months(start, length // 2)
        if modifier in {"late", "end of"}:
            return _add_months(start, length) - timedelta(days=14 if length == 3 else 30)
        if year_text is None and start <= reference:  # "in Q4" said during Q4: later this quarter
            return reference + timedelta(days=14)
        return start
    if kind == "day_month":
        return _next_on_or_after(reference, _MONTHS[g[1].lower().rstrip(".")], int(g[0]), _year(g[2]))
    if kind == "month_day":
        if int(g[1]) > 31:
            return None
        return _next_on_or_after(reference, _MONTHS[g[0].lower().rstrip(".")], int(g[1]), _year(g[2]))
    if kind == "month":
        modifier, month, year = (g[0] or "").lower(), _MONTHS[g[1].lower()], _year(g[2])
        day = {"mid": 15, "late": 20, "end of": 25}.get(modifier, 1)
        if modifier in {"after", "past"}:
            target = _next_on_or_after(reference, month, 1, year)
            return _add_months(target, 1) if target else None
        return (
            _next_on_or_after(reference, month, day, year) if (year or (month, day) != (reference.month, 1)) else None
        )
    if kind == "new_year":
        return (
            date(reference.year + 1, 1, 5)
            if reference.month >= 9
            else date(reference.year, 1, 5)
            if reference <= date(reference.year, 1, 4)
            else None
        )
    if kind == "season":
        modifier, season = (g[0] or "").strip().lower(), g[1].lower()
        month = _SEASON_START[season]
        if modifier == "after":
            month = month + 3
        elif modifier in {"late", "end of"}:
            month = month + 2
        year = reference.year
        if month > 12:
            month, year = month - 12, year + 1
        candidate = date(year, month, 1)
        if candidate <= reference:
            candidate = date(year + 1, month, 1)
        return candidate
    if kind == "next_year":
        modifier = (g[0] or "").lower()
        return date(reference.year + 1, {"later": 6, "end of": 10}.get(modifier, 1), 1)
    return None


def extract_check_in(text: str, *, reference: date | datetime) -> tuple[date | None, str]:
    """When a "not now" reply asks us to come back, as ``(date, phrase)``, or ``(None, "")``.

    Relative phrases count from ``reference`` (the e-mail's date). Of several time phrases, the one
    next to "ping me / reach out / follow up …" wins; otherwise the latest (never come back early).
    """
    if isinstance(reference, datetime):
        reference = reference.date()
    found: list[tuple[date, str, bool, int]] = []
    taken: list[tuple[int, int]] = []
    for pattern, kind in _PATTERNS:
        for match in pattern.finditer(text or ""):
            span = match.span()
            if not match.group(0).strip() or any(s < span[1] and span[0] < e for s, e in taken):
                continue
            resolved = _resolve(kind, match, reference)
            if resolved is None or resolved <= reference or resolved > reference + timedelta(days=3 * 366):
                continue
            taken.append(span)
            before = text[max(0, span[0] - 50) : span[0]]
            found.append((resolved, match.group(0).strip(), bool(_CONTACT_VERB.search(before)), span[0]))
    if not found:
        return None, ""
    asked = [item for item in found if item[2]]
    chosen = min(asked, key=lambda item: item[3]) if asked else max(found, key=lambda item: item[0])
    return chosen[0], chosen[1]


# --- referral: who to talk to instead ----------------------------------------------------------------

_NAME = r"[A-ZÀ-Ý][a-zà-ÿ'’-]+(?:\s+(?:van |de |von |da |del |le )?[A-ZÀ-Ý][a-zà-ÿ'’-]+){0,2}"
_NAME_RE = re.compile(_NAME)
_NOT_NAMES = {
    "Please", "Thanks", "Thank", "Hi", "Hello", "Hey", "Dear", "Best", "Regards", "Cheers", "Our", "My", "The", "She",
    "He", "They", "Her", "His", "Their", "I", "We", "You", "Head", "Director", "Manager", "Chief", "Vice", "President",
    "Lead", "Team", "Officer", "Procurement", "Purchasing", "Marketing", "Sales", "Engineering", "Operations", "Finance",
    "Security", "It", "This", "That", "Mr", "Ms", "Mrs", "Dr", "Also", "Feel", "Free", "Copying", "Cc",
    "Email", "Contact", "Reach", "Talk", "Speak", "Ask", "Try", "Loop", "Looping", "Re", "Fwd", "Monday", "Tuesday",
    "Wednesday", "Thursday", "Friday", "Hr", "People", "Data", "Growth", "Product", "Platform", "Infrastructure",
    "Revenue", "Legal", "Customer", "Success", "Support", "Partnerships", "Business", "Development", "Global",
    "Senior", "Junior", "Principal", "Staff", "Group", "Ops", "Devops", "Analytics", "Office", "Department", "Unit",
    "Colleague", "Boss", "Sie", "Herr", "Herrn", "Frau", "Monsieur", "Madame", "Mme", "Señor", "Señora", "Sr", "Sra", "Founder", "Cofounder", "Co-founder", "Owner", "Buyer", "Person", "Company", "Hiring",
}  # fmt: skip
_REFER_VERB = re.compile(
    r"(?:reach out to|get in touch with|contact|talk to|talk with|speak to|speak with|connect with|"
    r"loop(?:ing)? in|cc(?:'d|'ing|ed|ing)?|copying|copied|forward(?:ed|ing)? (?:this|your (?:note|e-?mail|message)) to|"
    r"e-?mail|write to|ask|try|introduce you to|introducing|handed (?:this|you) (?:over )?to|passing (?:this|you) (?:on )?to|"
    r"best person (?:is|would be)|right person (?:is|would be)|person you want is|responsible (?:person )?is|"
    r"wenden sie sich an|kontaktieren sie|contactez|escriba a|contacta con|contatta)\s+",
    re.IGNORECASE,
)
_NAME_BEFORE_ROLE = re.compile(
    rf"({_NAME})\s*(?:\([^)]*\)\s*)?(?:is|would be)\s+(?:the|a|our)\s+(?:right|best|better|correct|person|one)",
)


def _clean_name(candidate: str) -> str:
    words = candidate.split()
    while words and words[0].strip("'’") in _NOT_NAMES:
        words.pop(0)
    while words and words[-1] in _NOT_NAMES:
        words.pop()
    return " ".join(words)


def _name_from_local_part(email: str) -> str:
    local = email.split("@")[0]
    parts = [p for p in re.split(r"[._-]+", local) if p.isalpha() and len(p) > 1]
    return " ".join(p.capitalize() for p in parts) if len(parts) >= 2 else ""


def extract_referral(text: str, *, exclude_emails: Iterable[str] = ()) -> Referral | None:
    """The person a reply points us to: name and e-mail where the text gives them."""
    text = text or ""
    excluded = {e.lower() for e in exclude_emails}
    emails = [e.rstrip(".").lower() for e in EMAIL_RE.findall(text) if e.rstrip(".").lower() not in excluded]
    email = emails[0] if emails else ""
    name = ""
    if email:
        position = text.lower().find(email)
        before = text[max(0, position - 60) : position]
        # "Jane Doe (jane@…)", "Jane Doe <jane@…>", "Jane Doe - jane@…", "Jane Doe at jane@…"
        pair = re.search(rf"({_NAME})\s*(?:[(<\[]|[-–—:,]|\bat\b|\bon\b|\bvia\b)?\s*$", before)
        if pair:
            name = _clean_name(pair.group(1))
        if not name:
            after = text[position + len(email) : position + len(email) + 40]
            paren = re.match(rf"\s*[(\[]\s*({_NAME})", after)
            if paren:
                name = _clean_name(paren.group(1))
    if not name:
        for verb in _REFER_VERB.finditer(text):
            window = re.split(r"[.;:!?\n]", text[verb.end() : verb.end() + 80])[0]
            for candidate in _NAME_RE.finditer(window):
                cleaned = _clean_name(candidate.group(0))
                if cleaned:
                    name = cleaned
                    break
            if name:
                break
    if not name:
        role = _NAME_BEFORE_ROLE.search(text)
        if role:
            name = _clean_name(role.group(1))
    if not name and email:
        name = _name_from_local_part(email)
    if not name and not email:
        return None
    return Referral(name=single_line(name, max_length=200), email=email)


def names_whom_to_contact(text: str) -> bool:
    """Whether the text uses a verb of referring someone ("reach out to", "cc'ing", "contactez" …)."""
    return bool(_REFER_VERB.search(text))
