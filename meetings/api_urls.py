"""Meetings API routes under /api/v1/meetings (namespace api:meetings)."""

urlpatterns: list = []
