"""GET /api/v1/feed/identifiers/?cursor=… — confirmed and retracted identifiers in the order
they changed, for the operator's antifraud and blocking systems (role «blocking»)."""

from __future__ import annotations

import base64

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.access import has
from cases.api_policies import refuse_repeated_parameters
from cases.models import ScammerIdentifier

from . import selectors
from .models import FeedEntry
from .services import feed_item

PAGE_SIZE, PAGE_SIZE_MAX = 500, 1000


class CanReadFeed(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return has(request.user, "intel.read_feed")


class FeedItemSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Порядковый номер изменения")
    action = serializers.ChoiceField(choices=FeedEntry.Action.choices)
    kind = serializers.ChoiceField(choices=ScammerIdentifier.Kind.choices)
    value = serializers.CharField(
        help_text="Нормализованное значение: E.164, домен, «card:<хеш>», «telegram:@имя»…"
    )
    display = serializers.CharField()
    changed_at = serializers.DateTimeField()


class FeedPageSerializer(serializers.Serializer):
    results = FeedItemSerializer(many=True)
    next_cursor = serializers.CharField(help_text="Передайте в cursor, чтобы читать дальше")


def _cursor(raw: str) -> int:
    """An opaque cursor: the last change read. Empty: from the beginning."""
    if not raw:
        return 0
    try:
        value = int(base64.urlsafe_b64decode(raw.encode() + b"==").decode().removeprefix("f:"))
    except (ValueError, UnicodeError):
        value = -1
    if value < 0:
        raise ValidationError({"cursor": [_("Неверный курсор: возьмите его из next_cursor.")]})
    return value


def _encode(last: int) -> str:
    return base64.urlsafe_b64encode(f"f:{last}".encode()).decode().rstrip("=")


class FeedApi(APIView):
    """Each change once, in order; a consumer keeps `next_cursor` and asks again (an empty
    `results` means it has everything so far)."""

    permission_classes = [IsAuthenticated, CanReadFeed]

    @extend_schema(
        operation_id="feed_identifiers",
        parameters=[
            OpenApiParameter("cursor", str, description="next_cursor прошлого ответа"),
            OpenApiParameter("page_size", int, description=f"1–{PAGE_SIZE_MAX}"),
        ],
        responses=FeedPageSerializer,
    )
    def get(self, request: Request) -> Response:
        refuse_repeated_parameters(request)
        after = _cursor(request.query_params.get("cursor", ""))
        raw_size = request.query_params.get("page_size", "")
        if raw_size and not (raw_size.isascii() and raw_size.isdigit()
                             and 1 <= int(raw_size) <= PAGE_SIZE_MAX):  # fmt: skip
            raise ValidationError({"page_size": [_("От 1 до %(max)d.") % {"max": PAGE_SIZE_MAX}]})
        entries = selectors.feed_page(after=after, limit=int(raw_size or PAGE_SIZE))
        last = entries[-1].pk if entries else after
        body = {"results": [feed_item(e) for e in entries], "next_cursor": _encode(last)}
        return Response(FeedPageSerializer(body).data)
