"""The executor: performs an approved or autonomous action exactly once."""
