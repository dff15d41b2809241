from django.db import models


class Heartbeat(models.Model):
    """Last time a background component (the Celery worker, beat) proved it was alive; one row per component,
    written by novaops.tasks.worker_heartbeat and reported by /readyz."""

    component = models.CharField(max_length=60, unique=True)
    seen_at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.component} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
