from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found
from django.views.defaults import server_error as defaults_server_error
from drf_spectacular.views import SpectacularAPIView

from calls.urls import api_urlpatterns as calls_api_urls
from calls.urls import cti_urlpatterns as cti_urls
from fraudcenter import ops
from fraudcenter.api_docs import RedocView, SwaggerView
from intel.urls import api_urlpatterns as intel_api_urls
from reminders.urls import api_urlpatterns as reminder_api_urls
from reminders.urls import callback_urlpatterns as sms_callback_urls

admin.site.site_header = "fraudcenter — администрирование"
admin.site.site_title = "fraudcenter"

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("cases.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    *reminder_api_urls,  # /api/v1/cases/<id>/reminders/…
    *sms_callback_urls,  # /sms/http/dlr/, /sms/http/inbound/
    *cti_urls,  # /api/v1/cti/<token>: the PBX's push
    *calls_api_urls,  # /api/v1/calls/, /api/v1/callbacks/
    path("", include("calls.urls")),
    path("", include("intel.urls")),
    *intel_api_urls,  # /api/v1/feed/…
    path("reports/", include("reports.urls")),
    path("api/v1/reports/", include("reports.api_urls")),
    path("", include("cases.urls")),
]


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a URL nothing matches: JSON under /api/ (clients parse it), the Russian page
    elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Не найдено."}, status=404)
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: JSON under /api/, the standalone Russian page elsewhere (templates/500.html)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Ошибка сервера. Повторите запрос позже."}, status=500)
    return defaults_server_error(request)


handler404 = not_found
handler500 = server_error
