"""Who and which company a signal is about: domains, resolution, and what sources say of people."""
