"""REST API v1 for the 611 line (telephony) and the in-app chat backend.

Thin views: ask cases.access for the case (404 if this account may not see it, 403 if it
may see it but not do this), validate the input serializer, call a service from
cases.services (which owns the transaction, the rules and the timeline, with request.user as
actor), render an output serializer. Who may do what is written once, in cases/rules.py;
the staff pages ask the same module, so the two agree (tests/test_parity.py).

Writes take `If-Match: <version>` (the detail's ETag): a stale one answers 412.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fraudcenter.requests import ApiRequest
from playbooks.models import Category, Playbook, Step
from playbooks.selectors import version_steps

from . import serializers as s
from .access import (
    CaseAction,
    access_case,
    access_case_step,
    access_chat_message,
    access_suggestion,
    may,
    may_see_personal_data,
    must_send_idempotency_key,
    require_open_case,
    require_subscriber_lookup,
)
from .api_policies import refuse_repeated_parameters
from .filters import CaseFilter
from .idempotency import (
    MAX_KEY_LENGTH,
    StoredResponse,
    idempotent_call,
    request_fingerprint,
    to_json,
)
from .models import Case
from .selectors import (
    case_steps,
    identifier_case_count,
    identifiers_for_case,
    subscriber_find,
    subscriber_history,
)
from .services import (
    case_add_identifier,
    case_add_note,
    case_append_message,
    case_assign,
    case_chat_reply,
    case_chat_resend,
    case_chat_set_state,
    case_open_with_steps,
    case_record_step,
    case_resolve_suggestion,
    case_set_status,
    case_update,
)
from .subscribers import subscriber_card_accessed

# --- Access --------------------------------------------------------------------------------


class CanUseCaseApi(BasePermission):
    """Any role that may see some case: staff and integrations. Each case is then checked by
    cases.access."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return may(request.user, CaseAction.VIEW)


API_PERMISSIONS = [IsAuthenticated, CanUseCaseApi]


def parse_if_match(request: ApiRequest) -> int | None:
    """If-Match: 7, "7" or W/"7" → 7; absent or * → None (no check)."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    match = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', raw)
    if not match:
        raise ValidationError({"If-Match": [_("Укажите версию обращения числом.")]})
    return int(match.group(1))


def personal_data_context(request: ApiRequest, **context: Any) -> dict[str, Any]:
    """The serializers' context: masked numbers, names and texts for a reader who may not see
    them in full (a manager without the unmasking permission)."""
    return {"mask_personal_data": not may_see_personal_data(request.user), **context}


def with_etag(response: Response, version: int) -> Response:
    response["ETag"] = f'"{version}"'
    return response


# Required: every caller with an API token must send it (400 without); a staff session may not.
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
    OpenApiParameter.HEADER,
    required=True,
    description="Обязателен при вызове с токеном (сессия сотрудника может не передавать): "
    "повтор с тем же ключом и телом вернёт тот же ответ.",
)
IF_MATCH_HEADER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Версия обращения (из ETag или поля version); 412, если её уже изменили.",
)
ERRORS = {
    400: OpenApiResponse(description="Ошибки в полях: {поле: [сообщения]}"),
    401: OpenApiResponse(s.ErrorSerializer, description="Нет или неверный токен"),
    403: OpenApiResponse(s.ErrorSerializer, description="Недостаточно прав"),
    404: OpenApiResponse(s.ErrorSerializer, description="Не найдено"),
    429: OpenApiResponse(s.ErrorSerializer, description="Слишком много запросов"),
}
# A write on a case: also 412 when If-Match names a version someone has changed since.
WRITE_ERRORS = {
    **ERRORS,
    412: OpenApiResponse(s.ErrorSerializer, description="Версия устарела"),
}


# --- Subscribers -----------------------------------------------------------------------------


class LookupQuerySerializer(serializers.Serializer):
    phone = s.PhoneField()


class SubscriberLookupApi(APIView):
    """The screen pop when a call arrives."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="subscribers_lookup",
        parameters=[LookupQuerySerializer],
        responses={200: s.SubscriberLookupSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        require_subscriber_lookup(request.user)
        query = LookupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        subscriber = subscriber_find(phone=query.validated_data["phone"])
        if subscriber is None:
            raise Http404
        history = subscriber_history(subscriber=subscriber)
        subscriber_card_accessed(subscriber=subscriber)
        data = s.SubscriberLookupSerializer(
            {
                "subscriber": subscriber,
                "open_cases": history.open_cases,
                "recent_cases": history.recent_cases,
                "total_cases": history.total_cases,
                "cases_in_repeat_window": history.cases_in_repeat_window,
                "is_repeat_victim": history.is_repeat_victim,
            },
            context=personal_data_context(request),
        ).data
        return Response(data)


# --- Cases -----------------------------------------------------------------------------------


class CasePagination(CursorPagination):
    """Newest first, by (created_at, id) — the case_created_idx index. No COUNT(*)."""

    ordering = ("-created_at", "-id")
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        """A page size that is not a whole number from 1 to 100 is a field error, not
        silently the default (a client asking for 500 must learn it gets 100 at the most)."""
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:  # absent or empty (an HTML form's empty field): the default
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError({"page_size": [_("Размер страницы — целое число от 1 до 100.")]})
        return int(raw)

    def decode_cursor(self, request: Request) -> Any:
        # DRF answers a mangled cursor with 404; it is bad input on a URL that exists.
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({"cursor": [_("Неверный курсор страницы.")]}) from exc

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class CaseListOpenApi(generics.GenericAPIView):
    """GET: the case list with filters. POST: open a case (idempotent)."""

    permission_classes = API_PERMISSIONS
    pagination_class = CasePagination
    filterset_class = CaseFilter
    serializer_class = s.CaseListSerializer

    def get_queryset(self) -> QuerySet[Case]:
        return Case.objects.for_list().visible_to(self.request.user)

    @extend_schema(operation_id="cases_list", responses={200: s.CaseListSerializer(many=True)})
    def get(self, request: ApiRequest) -> Response:
        refuse_repeated_parameters(request, lists=("status",))
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        data = s.CaseListSerializer(page, many=True, context=personal_data_context(request)).data
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id="cases_open",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.CaseOpenInputSerializer,
        responses={
            201: s.CaseCreatedSerializer,
            200: OpenApiResponse(
                s.CaseCreatedSerializer,
                description="Обращение с этим external_id от этой интеграции уже есть",
            ),
            409: OpenApiResponse(s.ErrorSerializer, description="Запрос с этим ключом ещё идёт"),
            422: OpenApiResponse(s.ErrorSerializer, description="Ключ уже был с другим телом"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        require_open_case(request.user)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationError({"Idempotency-Key": [_("Слишком длинный или неверный ключ.")]})
        if not key:
            if must_send_idempotency_key(request.user, by_token=request.auth is not None):
                raise ValidationError(
                    {"Idempotency-Key": [_("Интеграции обязаны передавать Idempotency-Key.")]}
                )
            status_code, body, _case = self._open(request)
            return Response(to_json(body), status=status_code)
        stored: StoredResponse = idempotent_call(
            owner=request.user,
            key=key,
            fingerprint=request_fingerprint(request.data),
            handler=lambda: self._open(request),
        )
        response = Response(stored.body, status=stored.status)
        if stored.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def _open(self, request: ApiRequest) -> tuple[int, Any, Case | None]:
        data = s.CaseOpenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        category: Category = fields.pop("category")
        steps: list[Step] | None = None
        try:
            opened = case_open_with_steps(actor=request.user, category=category, **fields)
        except (IntegrityError, DjangoValidationError):
            # The second guard: this integration already sent this call/chat id. full_clean()
            # reports it as a constraint error; a concurrent twin hits the unique index.
            case = self._existing(request, fields["external_id"])
            if case is None:
                raise
            version = case.playbook_version
            playbook = version.playbook if version else None
            status_code: int = status.HTTP_200_OK
        else:
            case, steps = opened.case, opened.steps
            # The category was loaded with its playbook and current version: the pinned one.
            playbook = getattr(category, "playbook", None)
            version = playbook.current_version if playbook else None
            status_code = status.HTTP_201_CREATED
        if steps is None:
            steps = version_steps(version.pk) if version else []
        context = personal_data_context(
            request, playbook=playbook, playbook_version=version, steps=steps
        )
        return status_code, s.CaseCreatedSerializer(case, context=context).data, case

    def _existing(self, request: ApiRequest, external_id: str) -> Case | None:
        if not external_id:
            return None
        return (
            Case.objects.for_list()
            .select_related("playbook_version__playbook")
            .filter(created_by=request.user, external_id=external_id)
            .first()
        )


class CaseDetailApi(APIView):
    permission_classes = API_PERMISSIONS

    @extend_schema(operation_id="cases_retrieve", responses={200: s.CaseDetailSerializer, **ERRORS})
    def get(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case(request.user, case_id, queryset=Case.objects.for_detail())
        prefetch_related_objects([case], "reminders")
        rows = case_steps(case=case)
        context = personal_data_context(
            request,
            steps=[row.step for row in rows],
            outcomes={o.step_id: o for o in case.step_outcomes.all()},
            identifiers=identifiers_for_case(case=case),
        )
        data = s.CaseDetailSerializer(case, context=context).data
        return with_etag(Response(data), case.version)

    @extend_schema(
        operation_id="cases_update",
        parameters=[IF_MATCH_HEADER],
        request=s.CaseUpdateInputSerializer,
        responses={
            200: s.CaseListSerializer,
            **WRITE_ERRORS,
        },
    )
    def patch(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.CHANGE)
        expected = parse_if_match(request)
        data = s.CaseUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = self._apply(request, case, expected, dict(data.validated_data))
        case = Case.objects.for_list().get(pk=case.pk)
        body = s.CaseListSerializer(case, context=personal_data_context(request)).data
        return with_etag(Response(body), case.version)

    def _apply(self, request: ApiRequest, case: Case, expected: int | None, changes: dict) -> Case:
        """Each part goes through its service; all in one transaction, so a refusal in the
        last part leaves the first ones unsaved. The version is checked by the first
        service to run; the later ones follow the version it produced."""
        actor = request.user
        status_value = changes.pop("status", None)
        comment = changes.pop("comment", "")
        assignee_given = "assignee" in changes
        assignee = changes.pop("assignee", None)
        if status_value in ("resolved", "closed") and "outcome" in changes:
            outcome = changes.pop("outcome")
        else:
            outcome = ""

        def follow(updated: Case) -> int | None:
            return None if expected is None else updated.version

        with transaction.atomic():
            if changes:
                case = case_update(case=case, actor=actor, expected_version=expected, **changes)
                expected = follow(case)
            if assignee_given:
                case = case_assign(
                    case=case, assignee=assignee, actor=actor, expected_version=expected
                )
                expected = follow(case)
            if status_value:
                case = case_set_status(
                    case=case,
                    status=status_value,
                    actor=actor,
                    outcome=outcome,
                    comment=comment,
                    expected_version=expected,
                )
        return case


class CaseMessageCreateApi(APIView):
    """A chat transcript line; the same external_id twice is the same line (200)."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="cases_messages_create",
        request=s.ChatMessageInputSerializer,
        responses={
            201: s.ChatMessageSerializer,
            200: OpenApiResponse(s.ChatMessageSerializer, description="Уже было: то же сообщение"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.CHAT)
        data = s.ChatMessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = case_append_message(case=case, actor=request.user, **data.validated_data)
        return Response(
            s.ChatMessageSerializer(message).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CaseChatReplyApi(APIView):
    """A specialist's answer in the subscriber's chat (the case page's reply box): written
    with its delivery to the chat backend, sent after commit. The same request_id (or
    Idempotency-Key) twice is one message (200)."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="cases_chat_reply",
        parameters=[IF_MATCH_HEADER],
        request=s.ChatReplyInputSerializer,
        responses={
            201: s.ChatMessageSerializer,
            200: OpenApiResponse(s.ChatMessageSerializer, description="Уже было: тот же ответ"),
            **WRITE_ERRORS,
        },
    )
    def post(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.REPLY)
        expected = parse_if_match(request)
        data = s.ChatReplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        request_id = data.validated_data.get("request_id") or request.headers.get(
            "Idempotency-Key", ""
        )
        if not request_id:
            raise ValidationError(
                {"request_id": [_("Укажите request_id или заголовок Idempotency-Key.")]}
            )
        message, created = case_chat_reply(
            case=case,
            text=data.validated_data["text"],
            request_id=request_id,
            actor=request.user,
            expected_version=expected,
        )
        return Response(
            s.ChatMessageSerializer(message, context=personal_data_context(request)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CaseChatResendApi(APIView):
    """A supervisor sends a reply the chat backend refused once more (same webhook-id)."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="cases_chat_resend",
        request=None,
        responses={
            200: s.ChatMessageSerializer,
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest, case_id: int, message_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.RESEND)
        message = case_chat_resend(
            case=case, message=access_chat_message(case, message_id), actor=request.user
        )
        return Response(
            s.ChatMessageSerializer(message, context=personal_data_context(request)).data
        )


class CaseSuggestionApi(APIView):
    """An identifier found in the case's texts (the detail's `suggestions`): add it to the
    case, or dismiss it (the staff page's «Добавить» / «Не то»)."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="cases_suggestions_resolve",
        parameters=[IF_MATCH_HEADER],
        request=s.SuggestionInputSerializer,
        responses={200: s.SuggestionResultSerializer, **WRITE_ERRORS},
    )
    def post(self, request: ApiRequest, case_id: int, suggestion_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.WORK)
        suggestion = access_suggestion(case, suggestion_id)
        expected = parse_if_match(request)
        data = s.SuggestionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        identifier = case_resolve_suggestion(
            case=case, suggestion=suggestion, accept=data.validated_data["action"] == "add",
            actor=request.user, expected_version=expected,
        )  # fmt: skip
        if identifier is not None:
            identifier.case_count = identifier_case_count(identifier=identifier)  # type: ignore[attr-defined]  # the list's annotation, filled by hand
        return Response(s.SuggestionResultSerializer({"identifier": identifier}).data)


class CaseChatStateApi(APIView):
    """The chat backend reports the subscriber's chat session: open, closed by the subscriber,
    timed out. A report older than the last one is ignored; the same twice changes nothing."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="cases_chat_state",
        request=s.ChatStateInputSerializer,
        responses={200: s.ChatStateSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.CHAT)
        data = s.ChatStateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case, changed = case_chat_set_state(
            case=case,
            state=data.validated_data["state"],
            changed_at=data.validated_data.get("changed_at"),
            actor=request.user,
        )
        body = {"state": case.chat_state, "changed_at": case.chat_state_at, "changed": changed}
        return Response(s.ChatStateSerializer(body).data)


class CaseStepRecordApi(APIView):
    """Record (or correct) the outcome of a step of the case's pinned playbook."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="cases_steps_record",
        parameters=[IF_MATCH_HEADER],
        request=s.StepOutcomeInputSerializer,
        responses={200: s.StepOutcomeSerializer, **WRITE_ERRORS},
    )
    def post(self, request: ApiRequest, case_id: int, step_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.WORK)
        step = access_case_step(case, step_id)
        expected = parse_if_match(request)
        data = s.StepOutcomeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = case_record_step(
            case=case,
            step=step,
            actor=request.user,
            expected_version=expected,
            **data.validated_data,
        )
        return with_etag(Response(s.StepOutcomeSerializer(outcome).data), outcome.case.version)


class CaseIdentifierAddApi(APIView):
    """Link a scammer's phone number, SMS sender name or link to the case (idempotent)."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="cases_identifiers_add",
        parameters=[IF_MATCH_HEADER],
        request=s.IdentifierInputSerializer,
        responses={201: s.IdentifierSerializer, **WRITE_ERRORS},
    )
    def post(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.WORK)
        expected = parse_if_match(request)
        data = s.IdentifierInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        identifier = case_add_identifier(
            case=case, actor=request.user, expected_version=expected, **data.validated_data
        )
        identifier.case_count = identifier_case_count(identifier=identifier)  # type: ignore[attr-defined]  # the list's annotation, filled by hand
        return Response(s.IdentifierSerializer(identifier).data, status=status.HTTP_201_CREATED)


class CaseNoteAddApi(APIView):
    """A note in the case's timeline (the staff page's «Заметка»)."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="cases_notes_add",
        parameters=[IF_MATCH_HEADER],
        request=s.NoteInputSerializer,
        responses={
            201: s.NoteSerializer,
            **WRITE_ERRORS,
        },
    )
    def post(self, request: ApiRequest, case_id: int) -> Response:
        case = access_case(request.user, case_id, for_=CaseAction.CHANGE)
        expected = parse_if_match(request)
        data = s.NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = case_add_note(
            case=case, actor=request.user, text=data.validated_data["text"],
            expected_version=expected,
        )  # fmt: skip
        response = Response(s.NoteSerializer(event).data, status=status.HTTP_201_CREATED)
        return with_etag(response, event.case.version)


# --- Reference data --------------------------------------------------------------------------


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """Active fraud categories, in display order."""

    permission_classes = API_PERMISSIONS
    serializer_class = s.CategorySerializer
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    pagination_class = None
    filter_backends: list = []
    queryset = Category.objects.active().select_related("playbook")


class PlaybookViewSet(viewsets.ReadOnlyModelViewSet):
    """Playbooks with their current published version (the one new cases pin)."""

    permission_classes = API_PERMISSIONS
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Playbook]:
        queryset = Playbook.objects.select_related("category", "current_version")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("current_version__steps", queryset=Step.objects.order_by("position"))
            )
        return queryset

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return s.PlaybookDetailSerializer if self.action == "retrieve" else s.PlaybookSerializer
