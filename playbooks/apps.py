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

        from django.db.models.signals import post_delete, post_save

        from .selectors import forget_categories

        for model in (models.Category, models.Playbook, models.PlaybookVersion):
            post_save.connect(forget_categories, sender=model, dispatch_uid=f"forget-{model}")
            post_delete.connect(forget_categories, sender=model, dispatch_uid=f"rm-{model}")
