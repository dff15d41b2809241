from django.db import models


class Heartbeat(models.Model):
    """Last time a background component (the Celery worker, beat) proved it was alive; one row per component,
    written by novaops.tasks.worker_heartbeat and reported by /readyz."""

    component = models.CharField(max_length=60, unique=True)
    seen_at = models.DateTimeField()
    # Start of the component's current unbroken run of beats, for components that record runs (novaops.services).
    since = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.component} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
