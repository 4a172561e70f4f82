from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Обращения")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from . import models

        auditlog.register(models.Subscriber)
        auditlog.register(models.Case, exclude_fields=["updated_at", "version"])
        auditlog.register(models.StepOutcome)
