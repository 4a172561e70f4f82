from django.urls import path

from . import api, views

# Routed from fraudcenter/urls.py with explicit paths (the rest of /api/v1/ lives elsewhere).
api_urlpatterns = [
    path(
        "api/v1/cases/<int:case_id>/reminders/",
        api.CaseRemindersApi.as_view(),
        name="api-case-reminders",
    ),
    path(
        "api/v1/cases/<int:case_id>/reminders/<int:reminder_id>/cancel/",
        api.ReminderCancelApi.as_view(),
        name="api-reminder-cancel",
    ),
]
callback_urlpatterns = [
    path("sms/http/dlr/", views.http_delivery_report, name="sms-http-dlr"),
    path("sms/http/inbound/", views.http_inbound_message, name="sms-http-inbound"),
]
