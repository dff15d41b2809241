"""Escalation writes. Each public function runs in one transaction under `audited(...)`, so the events the
database triggers write for it carry who acted and what they did."""
