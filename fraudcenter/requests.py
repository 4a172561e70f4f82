"""Request types for annotations: what login_required and DRF's IsAuthenticated guarantee.

Typing only (django-stubs' documented pattern): Django and DRF still pass their own request
objects; these say that behind the login the user is a real account and, with django-htmx's
middleware, that `request.htmx` is there."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails
from rest_framework.request import Request


class StaffRequest(HttpRequest):
    user: User
    htmx: HtmxDetails


class ApiRequest(Request):
    user: User
