"""Thin Celery tasks. Beat sends them with no arguments; no ETA or countdown anywhere: the
send time lives in the database and the dispatcher picks due rows."""

from celery import shared_task

from . import services


@shared_task(name="reminders.dispatch", ignore_result=True, acks_late=False)
def dispatch() -> int:
    # acks_late off: a tick redelivered after a crash would only repeat a no-op claim; the
    # rows, not the message, carry the state.
    return services.reminders_dispatch()


@shared_task(name="reminders.reap", ignore_result=True, acks_late=False)
def reap() -> int:
    return services.reminders_reap()
