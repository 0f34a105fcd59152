"""The writes of the recommendations app, one module per job (each imports only those listed before it):

- ``review``: routing through trust, and what people decide (approve, reject, snooze, cancel).
- ``drafts``: a recommendation's subject and body, and the optional LLM rewrite.
- ``notifications``: the morning digest and urgent notices to reps.
- ``compose``: findings → at most one open recommendation per account and action type.
- ``analysis``: analysing one account (picture → playbooks → composer), and the beat sweep.
- ``execution``: performing an approved or autonomous action exactly once.
- ``outcomes``: replies and bounces to autonomous e-mails → the trust record.

Reads come from ``selectors``, ``picture`` and ``queries``. The tasks in ``tasks.py`` call these
services, never the other way round: a service queues a task by its registered name (``jobs``)."""
