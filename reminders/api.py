"""/api/v1/cases/{id}/reminders/ — list and schedule; …/{rid}/cancel/ — cancel.

Reading: whoever may view the case (staff, integrations). Writing: whoever may change it
(the specialist working it, a supervisor); integrations are read-only here."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.models import Case

from . import selectors, services
from .models import Reminder


class ReminderOutputSerializer(serializers.ModelSerializer):
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


class ReminderCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=1000, trim_whitespace=True)
    send_after = serializers.DateTimeField(required=False, allow_null=True)
    # Or the Idempotency-Key header: the same key twice is the same SMS.
    request_id = serializers.CharField(max_length=100, required=False)


def _case_for(request: Request, case_id: int, *, change: bool) -> Case:
    """Fetch the case and check access: one query for the case (+ the user's roles, cached)."""
    case = get_object_or_404(Case.objects.select_related("subscriber"), pk=case_id)
    if not request.user.has_perm("cases.view_case", case):
        raise PermissionDenied(_("Нет доступа к обращению."))
    if change and not request.user.has_perm("cases.change_case", case):
        raise PermissionDenied(_("Нет прав менять SMS этого обращения."))
    return case


def _raise_validation(exc: DjangoValidationError) -> None:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    raise ValidationError(detail) from exc


class CaseRemindersApi(APIView):
    @extend_schema(responses=ReminderOutputSerializer(many=True))
    def get(self, request: Request, case_id: int) -> Response:
        case = _case_for(request, case_id, change=False)
        reminders = selectors.reminders_for_case(case_id=case.pk)
        return Response(ReminderOutputSerializer(reminders, many=True).data)

    @extend_schema(request=ReminderCreateSerializer, responses=ReminderOutputSerializer)
    def post(self, request: Request, case_id: int) -> Response:
        case = _case_for(request, case_id, change=True)
        data = ReminderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        request_id = data.validated_data.get("request_id") or request.headers.get(
            "Idempotency-Key", ""
        )
        try:
            reminder, created = services.reminder_schedule_manual(
                case=case,
                text=data.validated_data["text"],
                send_after=data.validated_data.get("send_after"),
                request_id=request_id,
                actor=request.user,
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
    @extend_schema(request=None, responses=ReminderOutputSerializer)
    def post(self, request: Request, case_id: int, reminder_id: int) -> Response:
        case = _case_for(request, case_id, change=True)
        reminder = get_object_or_404(Reminder, case=case, pk=reminder_id)
        try:
            reminder = services.reminder_cancel(reminder=reminder, actor=request.user)
        except services.ReminderConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(ReminderOutputSerializer(reminder).data)
