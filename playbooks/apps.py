from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlaybooksConfig(AppConfig):
    name = "playbooks"
    verbose_name = _("Сценарии реагирования")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from . import models

        auditlog.register(models.Category)
        auditlog.register(models.Playbook)
        auditlog.register(models.PlaybookVersion)
        auditlog.register(models.Step)
