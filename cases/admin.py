from typing import Any

from auditlog.admin import LogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

from .models import (
    Absence,
    Case,
    CaseEvent,
    CaseIdentifier,
    ChatMessage,
    ScammerIdentifier,
    StaffProfile,
    StepOutcome,
    Subscriber,
)
from .roles import ROLE_LABELS


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["msisdn", "name", "time_zone", "sms_opt_out", "created_at"]
    search_fields = ["msisdn", "name"]
    list_filter = ["sms_opt_out"]
    show_full_result_count = False


class EventInline(admin.TabularInline):
    model = CaseEvent
    fields = ["created_at", "kind", "actor", "text", "data"]
    readonly_fields = ["created_at", "kind", "actor", "text", "data"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    # Workflow fields change through the staff pages and the API (services keep the timeline);
    # the admin edits the descriptive fields only.
    list_display = ["number", "status", "priority", "category", "channel", "assignee", "created_at"]
    list_filter = ["status", "channel", "category", "priority"]
    list_select_related = ["category", "assignee"]
    search_fields = ["number", "subscriber__msisdn", "external_id"]
    raw_id_fields = ["subscriber", "assignee", "created_by", "playbook_version"]
    readonly_fields = [
        "number",
        "status",
        "outcome",
        "assignee",
        "playbook_version",
        "due_at",
        "first_action_at",
        "resolved_at",
        "closed_at",
        "created_at",
        "updated_at",
        "version",
    ]
    inlines = [EventInline]
    show_full_result_count = False
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ScammerIdentifier)
class ScammerIdentifierAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "first_seen_at"]
    list_filter = ["kind"]
    search_fields = ["value"]


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    list_display = ["case", "kind", "actor", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["case", "actor"]
    show_full_result_count = False


@admin.register(StepOutcome)
class StepOutcomeAdmin(admin.ModelAdmin):
    list_display = ["case", "step", "result", "actor", "recorded_at"]
    raw_id_fields = ["case", "step", "actor"]


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["case", "author", "sent_at"]
    raw_id_fields = ["case"]


@admin.register(CaseIdentifier)
class CaseIdentifierAdmin(admin.ModelAdmin):
    list_display = ["case", "identifier", "created_at"]
    raw_id_fields = ["case", "identifier", "added_by"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "is_available", "max_open_cases", "time_zone"]
    list_editable = ["is_available", "max_open_cases"]


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):
    """Planned absences can also be entered here (the queue page has a form too)."""

    list_display = ["user", "kind", "starts_at", "ends_at", "note", "created_by"]
    list_filter = ["kind"]
    raw_id_fields = ["user", "created_by"]
    date_hierarchy = "starts_at"


# --- Third-party models, in Russian ------------------------------------------------------------
# django-auditlog and django-rest-knox ship no Russian; knox's model has no translatable names
# at all. Their display names are set here, on the running models only: migrations read a
# model's declared Meta and a field's constructor arguments, so nothing leaks into them
# (`makemigrations --check` in `make lint` holds that).


def _name_third_party_models() -> None:
    apps.get_app_config("auditlog").verbose_name = _("Журнал аудита")
    LogEntry._meta.verbose_name = _("запись журнала")
    LogEntry._meta.verbose_name_plural = _("журнал изменений")
    for field, label in {
        "action": _("действие"), "timestamp": _("когда"), "actor": _("кто"),
        "content_type": _("тип объекта"), "object_repr": _("объект"),
        "remote_addr": _("адрес"), "changes": _("изменения"),
    }.items():  # fmt: skip
        LogEntry._meta.get_field(field).verbose_name = label
    apps.get_app_config("knox").verbose_name = _("Доступ к API")
    apps.get_app_config("axes").verbose_name = _("Попытки входа")
    AuthToken._meta.verbose_name = _("токен API")
    AuthToken._meta.verbose_name_plural = _("токены API")
    for field, label in {
        "digest": _("отпечаток"), "user": _("учётная запись"),
        "created": _("создан"), "expiry": _("действует до"),
    }.items():  # fmt: skip
        AuthToken._meta.get_field(field).verbose_name = label


_name_third_party_models()

admin.site.unregister(LogEntry)


class ResourceFilter(ResourceTypeFilter):
    title = _("Тип объекта")


AUDIT_ACTIONS = {
    LogEntry.Action.CREATE: _("создание"),
    LogEntry.Action.UPDATE: _("изменение"),
    LogEntry.Action.DELETE: _("удаление"),
    LogEntry.Action.ACCESS: _("просмотр"),
}


class ActionFilter(admin.SimpleListFilter):
    title = _("Действие")
    parameter_name = "action__exact"

    def lookups(self, request: Any, model_admin: Any) -> Any:
        return [(str(k), v) for k, v in AUDIT_ACTIONS.items()]

    def queryset(self, request: Any, queryset: Any) -> Any:
        value = self.value() or ""
        ok = value.isascii() and value.isdigit()
        return queryset.filter(action=int(value)) if ok else queryset


@admin.register(LogEntry)
class AuditLogAdmin(LogEntryAdmin):
    """auditlog's own admin with Russian column titles (its mixin's are English)."""

    list_display = ["when", "resource", "action_label", "what", "who"]
    list_filter = [ActionFilter, ResourceFilter]

    @admin.display(description=_("Действие"), ordering="action")
    def action_label(self, obj: Any) -> Any:
        return AUDIT_ACTIONS.get(obj.action, obj.get_action_display())

    @admin.display(description=_("Когда"), ordering="timestamp")
    def when(self, obj: Any) -> Any:
        return self.created(obj)

    @admin.display(description=_("Объект"))
    def resource(self, obj: Any) -> Any:
        return self.resource_url(obj)

    @admin.display(description=_("Изменения"))
    def what(self, obj: Any) -> Any:
        return self.msg_short(obj)

    @admin.display(description=_("Кто"))
    def who(self, obj: Any) -> Any:
        return self.user_url(obj)


User = get_user_model()
admin.site.unregister(User)


class RoleFilter(admin.SimpleListFilter):
    title = _("Роль")
    parameter_name = "role"

    def lookups(self, request: Any, model_admin: Any) -> Any:
        return [(str(role), label) for role, label in ROLE_LABELS.items()]

    def queryset(self, request: Any, queryset: Any) -> Any:
        return queryset.filter(groups__name=self.value()) if self.value() else queryset


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Django's user admin plus each person's role (the groups are the roles)."""

    list_display = ["username", "first_name", "last_name", "roles", "is_active", "last_login"]
    list_filter = [RoleFilter, "is_active", "is_staff"]

    def get_queryset(self, request: Any) -> Any:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("Роль"))
    def roles(self, obj: Any) -> str:
        names = [g.name for g in obj.groups.all()]
        # A group that is no role shows as it is.
        return ", ".join(str(ROLE_LABELS.get(n, n)) for n in names) or "—"
