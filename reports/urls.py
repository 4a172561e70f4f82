from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.reports_page, name="page"),
    path("export/cases.csv", views.export_cases_csv, name="export_cases_csv"),
    path("export/table/<slug:table>.csv", views.export_table_csv, name="export_table_csv"),
    path("exports/", views.export_xlsx_create, name="export_xlsx"),
    path("exports/<int:pk>/", views.export_job, name="job"),
    path("exports/<int:pk>/download/", views.export_job_download, name="download"),
]
