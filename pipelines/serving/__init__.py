"""Delivery: serve the pushed versions under version labels, roll out (canary, shadow, promote, abort,
rollback), route requests by key, and score data in batch."""
