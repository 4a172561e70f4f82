"""/api/v1/ routes. Explicit paths only (no catch-all): other apps add their own routes
under /api/v1/cases/<id>/ (e.g. reminders) next to these."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

app_name = "api-v1"

router = SimpleRouter()
router.register("categories", api.CategoryViewSet, basename="category")
router.register("playbooks", api.PlaybookViewSet, basename="playbook")

urlpatterns = [
    path("subscribers/lookup/", api.SubscriberLookupApi.as_view(), name="subscriber-lookup"),
    path("cases/", api.CaseListOpenApi.as_view(), name="case-list"),
    path("cases/<int:case_id>/", api.CaseDetailApi.as_view(), name="case-detail"),
    path(
        "cases/<int:case_id>/messages/",
        api.CaseMessageCreateApi.as_view(),
        name="case-messages",
    ),
    path("cases/<int:case_id>/replies/", api.CaseChatReplyApi.as_view(), name="case-replies"),
    path(
        "cases/<int:case_id>/suggestions/<int:suggestion_id>/",
        api.CaseSuggestionApi.as_view(),
        name="case-suggestion",
    ),
    path(
        "cases/<int:case_id>/replies/<int:message_id>/resend/",
        api.CaseChatResendApi.as_view(),
        name="case-reply-resend",
    ),
    path("cases/<int:case_id>/chat-state/", api.CaseChatStateApi.as_view(), name="case-chat-state"),
    path(
        "cases/<int:case_id>/steps/<int:step_id>/",
        api.CaseStepRecordApi.as_view(),
        name="case-step",
    ),
    path("cases/<int:case_id>/notes/", api.CaseNoteAddApi.as_view(), name="case-notes"),
    path(
        "cases/<int:case_id>/identifiers/",
        api.CaseIdentifierAddApi.as_view(),
        name="case-identifiers",
    ),
    *router.urls,
]
