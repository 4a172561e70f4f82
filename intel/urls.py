from django.urls import path

from . import api, views

app_name = "intel"

urlpatterns = [
    path("intel/review/", views.review, name="review"),
    path("intel/identifiers/<int:pk>/decide/", views.decide, name="decide"),
    path("intel/confirmed.csv", views.confirmed_csv, name="confirmed_csv"),
    path("intel/waves/", views.waves, name="waves"),
    path("intel/figures/", views.figures, name="figures"),
]

api_urlpatterns = [
    path("api/v1/feed/identifiers/", api.FeedApi.as_view(), name="api_feed"),
]
