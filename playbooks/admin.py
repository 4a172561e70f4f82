from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import Category, Playbook, PlaybookVersion, Step
from .services import playbook_create_draft, playbook_publish


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "sla_minutes", "urgent_sla_minutes", "is_active", "position"]
    list_editable = ["position", "is_active"]
    prepopulated_fields = {"slug": ["name"]}


class StepInline(admin.StackedInline):
    model = Step
    extra = 0

    def _editable(self, obj) -> bool:
        return obj is None or obj.is_editable

    def has_add_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(admin.ModelAdmin):
    list_display = ["playbook", "number", "status", "published_at", "created_by"]
    list_filter = ["status", "playbook"]
    list_select_related = ["playbook", "created_by"]
    readonly_fields = ["playbook", "number", "status", "published_at", "created_by", "created_at"]
    inlines = [StepInline]
    actions = ["publish"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return [*self.readonly_fields, "notes"]
        return self.readonly_fields

    def has_add_permission(self, request) -> bool:
        # New versions come from "create a draft" on the playbook, which copies the steps.
        return False

    @admin.action(description=_("Опубликовать выбранные черновики"))
    def publish(self, request, queryset):
        for version in queryset:
            try:
                playbook_publish(version=version)
                self.message_user(request, _("Опубликована: %s") % version)
            except ValidationError as exc:
                self.message_user(request, f"{version}: {'; '.join(exc.messages)}", messages.ERROR)


class VersionInline(admin.TabularInline):
    model = PlaybookVersion
    fields = ["number", "status", "published_at", "notes"]
    readonly_fields = ["number", "status", "published_at", "notes"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "current_version"]
    list_select_related = ["category", "current_version"]
    readonly_fields = ["current_version"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [VersionInline]
    actions = ["create_draft"]

    @admin.action(description=_("Создать черновик новой версии"))
    def create_draft(self, request, queryset):
        for playbook in queryset:
            draft = playbook_create_draft(playbook=playbook, actor=request.user)
            self.message_user(request, _("Черновик: %s") % draft)
