"""Learning from outcomes: what followed each recommendation, calibrated confidence, account fit,
reject reasons that change behaviour, peers' rationale and threshold proposals (issue 15).

Everything learnt is read from :class:`~recommendations.learning.models.RecommendationOutcome` rows
and Opportunity outcomes; every fitted model is a stored :class:`LearnedModel` version (JSON
parameters and metrics, never a pickle)."""
