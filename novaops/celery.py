"""The Celery app; its settings and beat schedule live in novaops/settings.py (CELERY_*), and
docs/architecture.md ("Reliability") says why each matters."""

import os
from importlib import import_module

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novaops.settings")

app = Celery("novaops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue(task_name: str, *args: object, **options: object) -> object:
    """Publish a task by its registered name. Services call this rather than importing their app's tasks module
    (which imports the services): the dependency runs one way, tasks → services. Honours task_always_eager."""
    if task_name not in app.tasks:
        # Task names start with their app (metrics.batch_ingest lives in metrics.tasks). Only a worker autodiscovers
        # the tasks modules; a web process imports the one it needs on first use.
        import_module(f"{task_name.partition('.')[0]}.tasks")
    return app.tasks[task_name].apply_async(args=args, **options)
