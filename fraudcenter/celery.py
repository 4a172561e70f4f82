import os

import structlog
from celery import Celery
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

app = Celery("fraudcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**_kwargs) -> None:
    """Workers and beat log like the web processes (settings.LOGGING: JSON lines in
    production, phone numbers masked). Without a receiver here Celery replaces the root
    logger's handlers with its own plain-text ones, which mask nothing."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@before_task_publish.connect
def _carry_request_id(headers=None, **_kwargs) -> None:
    """The publishing request's id travels in the task headers (ids only, no payload)."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


@task_prerun.connect
def _bind_request_id(task=None, task_id=None, **_kwargs) -> None:
    structlog.contextvars.clear_contextvars()
    request_id = getattr(task.request, "request_id", None) if task else None
    structlog.contextvars.bind_contextvars(task_id=task_id, request_id=request_id or task_id)


@task_postrun.connect
def _unbind_request_id(**_kwargs) -> None:
    structlog.contextvars.clear_contextvars()
