"""/api/v1/cases/{id}/reminders/ — list and schedule; …/{rid}/cancel/ — cancel.

Access through reminders.access (which asks cases.access): reading is seeing the case (an
integration: only the cases it opened); writing is working it (the specialist on it, a
supervisor); integrations are read-only here. The rules are the services'
(cases.services.case_sms_schedule / case_sms_cancel), as on the staff page."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.api import API_PERMISSIONS, IF_MATCH_HEADER, parse_if_match, personal_data_context
from cases.serializers import DateTimeField, ErrorSerializer, MasksPersonalData, StrictInput
from cases.services import case_sms_cancel, case_sms_schedule
from fraudcenter.requests import ApiRequest

from . import selectors, services
from .access import access_case_reminders, access_reminder
from .models import Reminder


class ReminderOutputSerializer(MasksPersonalData, serializers.ModelSerializer):
    text_fields = ("text",)

    status_display = serializers.CharField(source="get_status_display")
    characters = serializers.SerializerMethodField()
    cancellable = serializers.SerializerMethodField()

    class Meta:
        model = Reminder
        fields = [
            "id", "status", "status_display", "text", "characters", "parts", "send_after",
            "shifted_by_quiet_hours", "attempts", "last_error", "step", "created_at", "sent_at",
            "delivered_at", "cancellable",
        ]  # fmt: skip

    def get_characters(self, obj: Reminder) -> int:
        return len(obj.text)

    def get_cancellable(self, obj: Reminder) -> bool:
        return selectors.reminder_is_cancellable(obj)


class ReminderCreateSerializer(StrictInput):
    text = serializers.CharField(max_length=1000, trim_whitespace=True)
    send_after = DateTimeField(required=False, allow_null=True)
    # Or the Idempotency-Key header: the same key twice is the same SMS.
    request_id = serializers.CharField(max_length=100, required=False)


def _raise_validation(exc: DjangoValidationError) -> None:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    raise ValidationError(detail) from exc


class CaseRemindersApi(APIView):
    permission_classes = API_PERMISSIONS

    @extend_schema(responses=ReminderOutputSerializer(many=True))
    def get(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case_reminders(request.user, case_id)
        reminders = selectors.reminders_for_case(case_id=case.pk)
        context = personal_data_context(request)
        return Response(ReminderOutputSerializer(reminders, many=True, context=context).data)

    @extend_schema(
        parameters=[IF_MATCH_HEADER],
        request=ReminderCreateSerializer,
        responses={
            201: ReminderOutputSerializer,
            200: OpenApiResponse(
                ReminderOutputSerializer, description="SMS с этим request_id уже запланировано"
            ),
            422: OpenApiResponse(ErrorSerializer, description="request_id уже был с другим SMS"),
        },
    )
    def post(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case_reminders(request.user, case_id, write=True)
        expected = parse_if_match(request)
        data = ReminderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        request_id = data.validated_data.get("request_id") or request.headers.get(
            "Idempotency-Key", ""
        )
        try:
            reminder, created = case_sms_schedule(
                case=case,
                text=data.validated_data["text"],
                send_after=data.validated_data.get("send_after"),
                request_id=request_id,
                actor=request.user,
                expected_version=expected,
            )
        except DjangoValidationError as exc:
            _raise_validation(exc)
        except services.ReminderConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(
            ReminderOutputSerializer(reminder).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReminderCancelApi(APIView):
    permission_classes = API_PERMISSIONS

    @extend_schema(
        parameters=[IF_MATCH_HEADER],
        request=None,
        responses={
            200: ReminderOutputSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Уже поздно отменять"),
        },
    )
    def post(self, request: ApiRequest, case_id: int, reminder_id: int) -> Response:
        case, reminder = access_reminder(request.user, case_id, reminder_id)
        expected = parse_if_match(request)
        try:
            reminder = case_sms_cancel(
                case=case, reminder=reminder, actor=request.user, expected_version=expected
            )
        except services.ReminderConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(ReminderOutputSerializer(reminder).data)
