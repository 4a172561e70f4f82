from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Обращения")

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.db.models.signals import post_migrate

        # The role groups come from a data migration; a test database flush (which emits
        # post_migrate) must get them back too, like content types and permissions.
        post_migrate.connect(ensure_role_groups, sender=self)

        from django.apps import apps

        from fraudcenter.choice_labels import speed_up_choice_labels

        from . import models

        speed_up_choice_labels(apps.get_models())

        auditlog.register(models.Subscriber)
        auditlog.register(models.Case, exclude_fields=["updated_at", "version"])
        auditlog.register(models.StepOutcome)


def ensure_role_groups(using: str = "default", **_kwargs) -> None:
    from django.contrib.auth.models import Group

    from .roles import Role

    for role in Role:
        Group.objects.using(using).get_or_create(name=role.value)
