"""The Celery app; its settings and beat schedule live in novaops/settings.py (CELERY_*), and
docs/architecture.md ("Reliability") says why each matters."""

import os
from importlib import import_module

import redis
from celery import Celery
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novaops.settings")


def _connparams_of_an_open_transport(self, asynchronous=False):
    """kombu's Redis channel, refusing to build connection parameters from a transport already closed.

    When the broker goes away while the worker holds an unacknowledged message (acks_late: a task received or in
    progress), the consumer collects the broken connection (which detaches its transport: `client = None`) and then
    closes it; closing the channel tries to put the unacked message back, which needs a new Redis client, whose
    parameters kombu reads from `transport.client` — None. That AttributeError("'NoneType' object has no attribute
    'hostname'") is not one of kombu's connection errors, so nothing ignores it and the worker dies ("Unrecoverable
    error"). Raised as a Redis ConnectionError instead, kombu ignores it like any other failure to reach the broker
    during that cleanup, and the worker reconnects. The message stays in Redis' unacked set (restored after the
    visibility timeout); its batch is safe in PostgreSQL either way, and the sweeper re-enqueues it.
    """
    if self.connection is None or self.connection.client is None:
        raise redis.exceptions.ConnectionError("the broker connection is already closed")
    return _kombu_connparams(self, asynchronous=asynchronous)


_kombu_connparams = kombu_redis.Channel._connparams
kombu_redis.Channel._connparams = _connparams_of_an_open_transport

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
