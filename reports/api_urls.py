"""Mounted at /api/v1/reports/ with explicit paths (the rest of /api/v1/ lives elsewhere)."""

from django.urls import path

from .api import ReportFigureApi

app_name = "reports_api"

urlpatterns = [
    path("", ReportFigureApi.as_view(figure=None), name="all"),
    path("summary/", ReportFigureApi.as_view(figure="summary"), name="summary"),
    path("by-day/", ReportFigureApi.as_view(figure="by_day"), name="by_day"),
    path("by-category/", ReportFigureApi.as_view(figure="by_category"), name="by_category"),
    path("top-phones/", ReportFigureApi.as_view(figure="top_phones"), name="top_phones"),
    path("top-senders/", ReportFigureApi.as_view(figure="top_senders"), name="top_senders"),
    path("steps/", ReportFigureApi.as_view(figure="steps"), name="steps"),
    path("sms/", ReportFigureApi.as_view(figure="sms"), name="sms"),
    path("calls/", ReportFigureApi.as_view(figure="calls"), name="calls"),
    path("specialists/", ReportFigureApi.as_view(figure="specialists"), name="specialists"),
]
