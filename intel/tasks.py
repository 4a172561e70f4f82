from celery import shared_task

from . import services


@shared_task(name="intel.tasks.waves_detect")
def waves_detect_task() -> int:
    return services.waves_detect()
