"""Sentiment of a reply: vaderSentiment's compound score (−1 … +1).

vaderSentiment ships its lexicon in the wheel (NLTK's copy downloads it at run time). Sentiment is
evidence and a feature, never the intent: "Please remove me from your mailing list." scores +0.32.
"""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment_score(text: str) -> float:
    """VADER's compound score of ``text``, rounded to 4 places; 0.0 for empty text."""
    if not text or not text.strip():
        return 0.0
    return round(float(_analyzer().polarity_scores(text)["compound"]), 4)
