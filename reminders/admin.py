from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Reminder


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """Read-only rows; the only changes are the checks of "unknown" SMS, through services."""

    list_display = ["id", "case", "status", "send_after", "parts", "attempts", "sent_at"]
    list_filter = ["status", "shifted_by_quiet_hours"]
    list_select_related = ["case"]
    search_fields = ["case__number", "gateway_message_id"]
    show_full_result_count = False
    actions = ["mark_sent", "mark_not_sent"]
    readonly_fields = [f.name for f in Reminder._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _resolve(self, request, queryset, was_sent: bool) -> None:
        done = 0
        for reminder in queryset.filter(status=Reminder.Status.UNKNOWN):
            services.reminder_resolve_unknown(
                reminder=reminder, was_sent=was_sent, actor=request.user
            )
            done += 1
        self.message_user(request, _("Обработано SMS: %(n)s.") % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("«Неизвестно»: шлюз подтвердил отправку"))
    def mark_sent(self, request, queryset) -> None:
        self._resolve(request, queryset, True)

    @admin.action(description=_("«Неизвестно»: шлюз не получал — отправить снова"))
    def mark_not_sent(self, request, queryset) -> None:
        self._resolve(request, queryset, False)
