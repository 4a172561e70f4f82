from django.contrib import admin

from .models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """The export log: read-only, for audits of who exported what."""

    list_display = ["id", "created_at", "owner", "kind", "format", "masked", "state", "row_count"]
    list_filter = ["format", "masked", "state", "kind"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
