from django.contrib import admin

from .models import Delivery, DeliveryAttempt


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "duration_ms", "status_code", "result", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: read-only (a resend is the case page's action, by a supervisor)."""

    list_display = (
        "webhook_id", "target", "event_type", "status", "attempts", "last_status_code",
        "created_at", "delivered_at",
    )  # fmt: skip
    list_filter = ("target", "status", "event_type")
    search_fields = ("webhook_id", "ordering_key")
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
