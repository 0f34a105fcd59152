"""Texts of the simulated market: people's first names, and templates with variation for every reply
intent.

Each reply is assembled from a greeting, one of several bodies for its intent, a closer, sometimes a
signature and sometimes the quoted outreach, so the real classifier sees varied, realistic wording
rather than one canned sentence per intent."""

from __future__ import annotations

import random

#: First names of the people in both worlds, the demo's and the simulator's.
FIRST_NAMES = [
    "Dana",
    "Sam",
    "Alex",
    "Priya",
    "Jordan",
    "Maria",
    "Chen",
    "Fatima",
    "Lukas",
    "Aisha",
    "Tom",
    "Ines",
    "Kenji",
    "Olivia",
    "Rafael",
    "Nora",
    "Omar",
    "Sofia",
    "Jonas",
    "Mei",
]

GREETINGS = ["Hi {rep},", "Hello {rep},", "Hey {rep},", "{rep},", "Hi there,", "Good morning {rep},", ""]
CLOSERS = ["Thanks,", "Best,", "Cheers,", "Regards,", "Thank you,", "Best regards,", "—", ""]

BODIES: dict[str, list[str]] = {
    "interested": [
        "This looks really interesting. Could we set up a call next week to go through it with my team?",
        "Thanks for reaching out — we are actively looking at tools like this. Happy to talk, what does {day} look like?",
        "Yes, I'd love to learn more. Can you send over some times for a demo?",
        "Good timing, actually. We're reviewing our stack this quarter and this is on the list. Let's chat.",
        "Sounds promising! Please loop me in on a demo, and feel free to include our ops lead.",
        "We'd like to move forward with a trial. Who should I talk to about getting started?",
    ],
    "question": [
        "Quick question before we go further: do you integrate with Salesforce, and is SSO included in the Business plan?",
        "How does your pricing work for teams of around {seats} people? Is it per seat or per workspace?",
        "Can you tell me more about where the data is hosted? We need EU residency.",
        "What does onboarding look like, and how long does it usually take?",
        "Is there an API we could use to push our own events in? And what are the rate limits?",
        "Do you offer annual billing, and is there a discount for nonprofits?",
    ],
    "objection": [
        "Honestly the price seems high compared to what we pay today. Not sure we can justify it.",
        "We already use a competitor and switching would be a big project for us right now.",
        "I'm worried about the security review — our IT team is very strict about new vendors.",
        "Our budget for this year is already allocated, so this would be hard to fit in.",
        "We tried something similar before and adoption was poor. Why would this be different?",
    ],
    "not_now": [
        "Not a priority right now, but please check back in {weeks} weeks.",
        "We're in the middle of a reorg. Can you reach out again in {weeks} weeks?",
        "Timing isn't great — maybe revisit this in {weeks} weeks when the quarter closes?",
        "Interesting, but we can't look at this until later. Ping me again in {weeks} weeks.",
    ],
    "not_interested": [
        "Thanks, but we're not interested.",
        "We've decided to go in a different direction. Please don't follow up on this.",
        "This isn't a fit for us at the moment, and I don't expect that to change.",
        "No thank you — we have no need for this.",
    ],
    "unsubscribe": [
        "Please remove me from your mailing list.",
        "Unsubscribe.",
        "Stop emailing me, please take me off your list.",
        "Please take me off all future emails. Thanks.",
    ],
    "referral": [
        "I'm not the right person for this — {colleague} ({colleague_email}) runs our tooling decisions, please reach out to them.",
        "Adding {colleague} ({colleague_email}) who owns this area. {colleague}, could you take a look?",
        "You should talk to {colleague} instead, their e-mail is {colleague_email}.",
    ],
    "wrong_person": [
        "I think you have the wrong person, I don't work on anything related to this.",
        "Wrong contact, sorry — I left that team a while ago.",
        "I'm not involved in purchasing at all, you've got the wrong person.",
    ],
}

AUTO_REPLY_SUBJECTS = ["Out of Office: {subject}", "Automatic reply: {subject}", "Auto: {subject}", "OOO: {subject}"]
AUTO_REPLY_BODIES = [
    "I am out of the office until {date} with limited access to e-mail. For urgent matters please contact {colleague_email}.",
    "Thank you for your message. I'm currently on vacation and will respond when I return on {date}.",
    "This is an automatic reply: I'm away at a conference until {date}.",
]

OUTREACH_SUBJECTS = [
    "Quick idea for {company}",
    "{company} + salesai",
    "Following up on your evaluation",
    "Checking in",
    "A thought on your team's workflow",
    "Question about {company}'s plans",
]
OUTREACH_BODIES = [
    "Hi {first},\n\nI wanted to share how teams like yours cut their reporting time in half. Worth a short call?\n\n{rep}",
    "Hi {first},\n\nFollowing up in case my last note got buried. Happy to send a short overview.\n\n{rep}",
    "Hi {first},\n\nWould it help to see how {company} could roll this out in a week?\n\n{rep}",
]
REP_ANSWER_BODIES = [
    "Thanks {first}! Here are a few times that work for me: Tue 10:00, Wed 14:00.",
    "Great question — I've attached a short answer and our security pack.",
    "Appreciate the candour. Let me share how other teams handled that.",
]

_DAYS = ["Tuesday", "Wednesday", "Thursday", "Friday", "Monday"]


def reply_text(
    rng: random.Random,
    *,
    intent: str,
    rep: str,
    first: str,
    company: str,
    seats: int,
    colleague: str,
    colleague_email: str,
    weeks: int,
    quoted: str,
) -> str:
    """A human reply of ``intent`` with a varied greeting, closer, signature and quoted history."""
    body = rng.choice(BODIES[intent]).format(
        rep=rep,
        day=rng.choice(_DAYS),
        seats=seats,
        colleague=colleague,
        colleague_email=colleague_email,
        weeks=weeks,
    )
    parts = [rng.choice(GREETINGS).format(rep=rep), body, rng.choice(CLOSERS)]
    if rng.random() < 0.6:
        parts.append(f"{first}\n{company}")
    else:
        parts.append(first)
    if rng.random() < 0.25:
        parts.append("Sent from my phone")
    text = "\n\n".join(p for p in parts if p)
    if quoted and rng.random() < 0.5:
        quoted_lines = "\n".join("> " + line for line in quoted.splitlines())
        text += f"\n\nOn {rng.choice(_DAYS)}, {rep} wrote:\n{quoted_lines}"
    return text


def auto_reply(rng: random.Random, *, subject: str, date: str, colleague_email: str) -> tuple[str, str]:
    """An out-of-office (subject, body)."""
    return (
        rng.choice(AUTO_REPLY_SUBJECTS).format(subject=subject),
        rng.choice(AUTO_REPLY_BODIES).format(date=date, colleague_email=colleague_email),
    )
