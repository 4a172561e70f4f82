from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntelConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "intel"
    verbose_name = _("Разведка по мошенникам")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (counts reports and waves as cases arrive)
