from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.home, name="home"),
    path("cases/", views.case_list_all, name="list"),
    path("cases/mine/", views.case_list_mine, name="mine"),
    path("cases/assignees/", views.assignee_options, name="assignee_options"),
    path("cases/new/", views.case_new, name="new"),
    path("cases/next/", views.case_take_next, name="take_next"),
    path("cases/subscriber-card/", views.subscriber_card, name="subscriber_card"),
    path("cases/<int:pk>/", views.case_detail, name="detail"),
    path("cases/<int:pk>/steps/<int:step_id>/", views.case_step, name="step"),
    path("cases/<int:pk>/notes/", views.case_note, name="note"),
    path("cases/<int:pk>/identifiers/", views.case_identifier, name="identifier"),
    path("cases/<int:pk>/status/", views.case_status, name="status"),
    path("cases/<int:pk>/take/", views.case_take, name="take"),
    path("cases/<int:pk>/sms/", views.case_reminder_schedule, name="sms_schedule"),
    path(
        "cases/<int:pk>/sms/<int:reminder_id>/cancel/",
        views.case_reminder_cancel,
        name="sms_cancel",
    ),
    path(
        "cases/<int:pk>/suggestions/<int:suggestion_id>/",
        views.case_suggestion,
        name="suggestion",
    ),
    path("cases/<int:pk>/chat/", views.case_chat_log, name="chat_log"),
    path("cases/<int:pk>/chat/reply/", views.case_chat_reply_view, name="chat_reply"),
    path(
        "cases/<int:pk>/chat/<int:message_id>/resend/",
        views.case_chat_resend_view,
        name="chat_resend",
    ),
    path("queue/", views.queue, name="queue"),
    path("queue/assign/", views.queue_assign, name="assign"),
    path("queue/auto-assign/", views.queue_auto_assign, name="auto_assign"),
    path("queue/availability/", views.queue_availability, name="availability"),
    path("staff/absence/", views.staff_absence, name="absence"),
]
