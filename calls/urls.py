from django.urls import path

from . import api, views

app_name = "calls"

urlpatterns = [
    path("calls/pop/", views.screen_pop, name="pop"),
    path("calls/callbacks/", views.callbacks_page, name="callbacks"),
    path("calls/callbacks/<int:pk>/attempt/", views.callback_attempt_view, name="attempt"),
    path("calls/queue/", views.queue_callbacks_view, name="queue"),
    path("calls/auto-assign/", views.callbacks_auto_assign_view, name="auto_assign"),
]

# The PBX's push URL, with and without a trailing slash (PBXs set up for Zammad use none).
cti_urlpatterns = [
    path("api/v1/cti/<str:token>", views.cti_push, name="cti_push"),
    path("api/v1/cti/<str:token>/", views.cti_push, name="cti_push_slash"),
]

api_urlpatterns = [
    path("api/v1/calls/", api.CallListApi.as_view(), name="api_calls"),
    path("api/v1/callbacks/", api.CallbackListApi.as_view(), name="api_callbacks"),
]
