from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cases import views as case_views

admin.site.site_header = "fraudcenter — администрирование"
admin.site.site_title = "fraudcenter"

urlpatterns = [
    path("healthz", case_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("reports/", include("reports.urls")),
    path("api/v1/reports/", include("reports.api_urls")),
    path("", include("cases.urls")),
]
