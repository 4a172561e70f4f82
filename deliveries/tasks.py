"""Thin Celery tasks; the rows carry the state, the broker only ids."""

from celery import shared_task

from . import services


@shared_task(name="deliveries.send", ignore_result=True)
def send(delivery_id: int) -> int:
    # acks_late (the project default): a task lost with its worker is redelivered; its claim
    # then finds the row "sending" and does nothing, and the reaper takes over.
    return services.delivery_send(delivery_id)


@shared_task(name="deliveries.dispatch", ignore_result=True, acks_late=False)
def dispatch() -> int:
    return services.deliveries_dispatch()


@shared_task(name="deliveries.reap", ignore_result=True, acks_late=False)
def reap() -> int:
    return services.deliveries_reap()
