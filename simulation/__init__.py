"""The evaluation world: a synthetic market with hidden ground truth, and the scorer that measures
what salesai surfaced against it (DESIGN.md §6)."""
