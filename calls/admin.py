from django.contrib import admin

from .models import Call, Callback, CallbackAttempt, CtiEndpoint


@admin.register(CtiEndpoint)
class CtiEndpointAdmin(admin.ModelAdmin):
    """Tokens are made by `manage.py create_cti_endpoint`; here they can be revoked."""

    list_display = ["name", "created_at", "revoked_at"]
    readonly_fields = ["created_at"]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = [
        "call_id",
        "direction",
        "msisdn",
        "queue",
        "rang_at",
        "answered_at",
        "ended_at",
        "answered_by",
        "cause",
    ]
    list_filter = ["direction", "endpoint"]
    search_fields = ["call_id", "msisdn"]
    raw_id_fields = ["subscriber", "case", "callback", "answered_by"]
    date_hierarchy = "rang_at"


class AttemptInline(admin.TabularInline):
    model = CallbackAttempt
    extra = 0
    raw_id_fields = ["actor", "call"]


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    list_display = ["subscriber", "status", "due_at", "missed_calls", "assignee", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["subscriber", "assignee"]
    inlines = [AttemptInline]
