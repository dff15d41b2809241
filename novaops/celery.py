"""The Celery app and its beat schedule. Reliability settings follow DESIGN.md §4 and §9."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novaops.settings")

app = Celery("novaops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
