from celery import shared_task

from . import services


@shared_task(name="reports.tasks.export_build_xlsx")
def export_build_xlsx_task(job_id: int) -> None:
    services.export_build_xlsx(job_id=job_id)


@shared_task(name="reports.tasks.exports_delete_expired")
def exports_delete_expired_task() -> int:
    return services.exports_delete_expired()


@shared_task(name="reports.tasks.rollup_refresh")
def rollup_refresh_task() -> int:
    from .rollup import rollup_refresh

    return rollup_refresh()
