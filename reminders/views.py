"""Inbound gateway callbacks: delivery reports and subscribers' messages («СТОП»).

Plain Django views (the gateway is no user): a shared secret in X-Fraudcenter-Secret,
compared in constant time; no secret configured refuses everything."""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cases.phones import normalize_msisdn

from . import services


def _authorised(request: HttpRequest) -> bool:
    expected = settings.SMS_CALLBACK_SECRET
    given = request.headers.get("X-Fraudcenter-Secret", "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _payload(request: HttpRequest) -> dict | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@csrf_exempt
@require_POST
def http_delivery_report(request: HttpRequest) -> JsonResponse:
    if not _authorised(request):
        return JsonResponse({"detail": "forbidden"}, status=403)
    data = _payload(request)
    if data is None or not (data.get("message_id") or data.get("reference")):
        return JsonResponse({"detail": "message_id or reference required"}, status=400)
    try:
        matched = services.reminders_record_http_receipt(payload=data)
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    return JsonResponse({"matched": matched})


@csrf_exempt
@require_POST
def http_inbound_message(request: HttpRequest) -> JsonResponse:
    if not _authorised(request):
        return JsonResponse({"detail": "forbidden"}, status=403)
    data = _payload(request)
    if data is None or not isinstance(data.get("text"), str):
        return JsonResponse({"detail": "from and text required"}, status=400)
    try:
        msisdn = normalize_msisdn(str(data.get("from", "")))
    except ValidationError:
        return JsonResponse({"from": ["invalid phone number"]}, status=400)
    opted_out = services.reminder_inbound_message(msisdn=msisdn, text=data["text"])
    return JsonResponse({"opt_out": opted_out})
