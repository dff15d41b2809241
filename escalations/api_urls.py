"""Escalation API routes under /api/v1/escalations (namespace api:escalations)."""

urlpatterns: list = []
