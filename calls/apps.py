from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "calls"
    verbose_name = _("Звонки")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the case-link receiver)
