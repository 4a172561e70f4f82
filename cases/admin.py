from django.contrib import admin

from .models import (
    Case,
    CaseEvent,
    CaseIdentifier,
    ChatMessage,
    ScammerIdentifier,
    StaffProfile,
    StepOutcome,
    Subscriber,
)


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
