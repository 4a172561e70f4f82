"""Thin Celery tasks of the cases app: beat sends them with no arguments."""

from celery import shared_task

from . import retention


@shared_task(name="cases.tasks.anonymise_expired", ignore_result=True)
def anonymise_expired() -> int:
    # Redelivery after a crash is harmless: committed batches are done, the rest is claimed anew.
    return retention.cases_anonymise_expired().cases
