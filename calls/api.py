"""GET /api/v1/calls/ and /api/v1/callbacks/ for the chat backend and wallboards: who may read
them is the rules' `calls.view_call` (calls.access); numbers are masked as on the case API."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from cases.access import may_see_personal_data
from cases.api import CasePagination
from cases.api_policies import refuse_repeated_parameters
from cases.phones import normalize_msisdn
from cases.serializers import MasksPersonalData, UserRefSerializer

from .access import require_view_calls
from .models import Call, Callback
from .selectors import calls_list, open_callbacks


class CallSerializer(MasksPersonalData, serializers.ModelSerializer):
    phone_fields = ("msisdn", "from_number", "to_number")
    answered_by = UserRefSerializer(read_only=True, allow_null=True)
    missed = serializers.BooleanField(source="was_missed")
    wait_seconds = serializers.IntegerField(allow_null=True)
    talk_seconds = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Call
        fields = [
            "id", "call_id", "direction", "from_number", "to_number", "msisdn", "subscriber",
            "queue", "rang_at", "answered_at", "ended_at", "cause", "answered_by", "missed",
            "wait_seconds", "talk_seconds", "case", "callback",
        ]  # fmt: skip


class CallbackSerializer(MasksPersonalData, serializers.ModelSerializer):
    phone_fields = ("msisdn",)
    msisdn = serializers.CharField(source="subscriber.msisdn")
    attempts = serializers.IntegerField(source="attempts.count")

    class Meta:
        model = Callback
        fields = ["id", "status", "msisdn", "due_at", "missed_calls", "attempts", "assignee"]


class CallQuerySerializer(serializers.Serializer):
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    missed = serializers.BooleanField(required=False, allow_null=True, default=None)


class CallPagination(CasePagination):
    """As the case list's: page_size 1–100 or 400, a mangled cursor 400."""

    ordering = ("-rang_at", "-id")
    page_size = 50


class CanViewCalls(IsAuthenticated):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        require_view_calls(request.user)
        return True


class CallListApi(generics.GenericAPIView):
    """The call log, newest first: filters phone (any format), date_from/date_to (Moscow
    days), missed (true: inbound calls nobody answered)."""

    permission_classes = [CanViewCalls]
    pagination_class = CallPagination
    serializer_class = CallSerializer
    queryset = Call.objects.none()  # for the schema generator; get() builds the real one

    @extend_schema(
        operation_id="calls_list",
        parameters=[CallQuerySerializer],
        responses=CallSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        refuse_repeated_parameters(request)
        query = CallQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        try:
            msisdn = normalize_msisdn(q["phone"]) if q.get("phone") else ""
        except DjangoValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
        calls = calls_list(
            msisdn=msisdn,
            date_from=q.get("date_from"),
            date_to=q.get("date_to"),
            missed=q.get("missed"),
        )
        page = self.paginate_queryset(calls)
        context = {"mask_personal_data": not may_see_personal_data(request.user)}
        return self.get_paginated_response(CallSerializer(page, many=True, context=context).data)


class CallbackListApi(generics.GenericAPIView):
    """Open and escalated callbacks, the earliest deadline first (at most 200)."""

    permission_classes = [CanViewCalls]
    serializer_class = CallbackSerializer
    pagination_class = None
    queryset = Callback.objects.none()  # for the schema generator

    @extend_schema(operation_id="callbacks_list", responses=CallbackSerializer(many=True))
    def get(self, request: Request) -> Response:
        context = {"mask_personal_data": not may_see_personal_data(request.user)}
        return Response(CallbackSerializer(open_callbacks(), many=True, context=context).data)
