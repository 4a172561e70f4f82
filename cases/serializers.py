"""API input and output shapes. No business rules here: inputs are validated for shape and
handed to cases.services; outputs read what the selectors loaded (nothing counted per row)."""

from __future__ import annotations

import copy
import re
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deliveries.models import Delivery
from playbooks.models import Category, Playbook, PlaybookVersion, Priority, Step
from playbooks.selectors import active_category
from reminders.models import Reminder

from .models import (
    Case,
    CaseEvent,
    Channel,
    ChatMessage,
    ChatState,
    IdentifierSuggestion,
    Outcome,
    ScammerIdentifier,
    Status,
    StepOutcome,
    Subscriber,
)
from .personal_data import mask_name, mask_phone, mask_text
from .phones import normalize_msisdn

User = get_user_model()


# --- Fields ------------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "format": "date-time", "pattern": "^(20[0-9]{2}|2100)-"})
class DateTimeField(serializers.DateTimeField):
    """A time the API takes in: from 2000 to 2100 (as the staff forms' dates). Year 0172 is a
    valid date-time, but no chat line or SMS is from then, and before 1919 Moscow's offset has
    seconds (+02:30:17), which no client parses. The schema says so with a pattern."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        message = _("Время вне допустимого диапазона (2000–2100).")
        self.error_messages["overflow"] = message  # 9999-12-31T23:59Z overflows in Moscow
        self.validators += [
            lambda value: _check_year(value, message),
        ]


def _check_year(value: Any, message: Any) -> None:
    if not 2000 <= value.year <= 2100:
        raise serializers.ValidationError(message)


class PhoneField(serializers.CharField):
    """Any common Russian format in, E.164 out; a malformed number is a field error."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return normalize_msisdn(text)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, building its fields from the model once per class.

    DRF builds every field from the model on every instance (model field kwargs, validators):
    a quarter of a case opening's CPU (bench/RESULTS.md, the day run). The fields here never
    vary by request or instance (masking is done in to_representation), so the built fields
    are kept per class and each instance gets copies, as DRF copies its declared fields."""

    def get_fields(self) -> dict[str, Any]:
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built  # type: ignore[attr-defined]  # the class's own cache
        return copy.deepcopy(built)


class StrictInput(serializers.Serializer):
    """An input whose text fields take text: DRF's CharField turns a JSON number or boolean
    into a string ("external_id": 0 becomes "0"), which hides a client's bug and breaks the
    schema's promise that a string is expected. Form and multipart bodies are text anyway."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            wrong = {
                name: [_("Ожидается строка.")]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and not field.read_only
                and name in data
                and data[name] is not None
                and not isinstance(data[name], str)
            }
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


# --- Reference data ----------------------------------------------------------------------------


class StepSerializer(ModelSerializer):
    class Meta:
        model = Step
        fields = ["id", "position", "title", "instruction", "script", "is_required"]


class CategorySerializer(ModelSerializer):
    playbook: serializers.SlugRelatedField[Playbook] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )

    class Meta:
        model = Category
        fields = [
            "slug",
            "name",
            "description",
            "sla_minutes",
            "urgent_sla_minutes",
            "default_priority",
            "playbook",
        ]


class PlaybookSerializer(ModelSerializer):
    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    version = serializers.IntegerField(source="current_version.number", allow_null=True)

    class Meta:
        model = Playbook
        fields = ["slug", "title", "category", "version"]


class PlaybookDetailSerializer(PlaybookSerializer):
    steps = serializers.SerializerMethodField()
    published_at = serializers.DateTimeField(source="current_version.published_at", default=None)

    class Meta(PlaybookSerializer.Meta):
        fields = [*PlaybookSerializer.Meta.fields, "published_at", "steps"]

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, playbook: Playbook) -> Any:
        version = playbook.current_version
        if version is None:
            return []
        return StepSerializer(version.steps.all(), many=True).data


class PinnedPlaybookSerializer(serializers.Serializer):
    """The playbook version a case pinned, with its steps."""

    slug = serializers.CharField(source="playbook.slug")
    title = serializers.CharField(source="playbook.title")
    version = serializers.IntegerField(source="number")
    steps = StepSerializer(many=True)


# --- Subscribers -------------------------------------------------------------------------------


class MasksPersonalData:
    """Masks the listed fields when the context says the reader may not see personal data
    in full (`mask_personal_data`, from cases.access.may_see_personal_data in the view)."""

    phone_fields: tuple[str, ...] = ()
    name_fields: tuple[str, ...] = ()
    text_fields: tuple[str, ...] = ()

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)  # type: ignore[misc]  # a Serializer mixin
        if self.context.get("mask_personal_data"):  # type: ignore[attr-defined]  # as above
            for field in self.phone_fields:
                data[field] = mask_phone(data.get(field))
            for field in self.name_fields:
                data[field] = mask_name(data.get(field))
            for field in self.text_fields:
                data[field] = mask_text(data.get(field))
        return data


class SubscriberSerializer(MasksPersonalData, ModelSerializer):
    phone_fields = ("msisdn",)
    name_fields = ("name",)
    msisdn = serializers.CharField(help_text="E.164")
    time_zone = serializers.CharField()

    class Meta:
        model = Subscriber
        fields = ["id", "msisdn", "name", "time_zone", "sms_opt_out"]


class UserRefSerializer(ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name"]

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()


# --- Cases -------------------------------------------------------------------------------------


class HistoryCaseSerializer(MasksPersonalData, ModelSerializer):
    """A case in the subscriber's history: what the screen pop shows (no subscriber again)."""

    text_fields: tuple[str, ...] = ("summary",)

    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    assignee = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "number",
            "channel",
            "status",
            "priority",
            "category",
            "assignee",
            "summary",
            "outcome",
            "created_at",
            "due_at",
        ]


class CaseListSerializer(HistoryCaseSerializer):
    """A case in a list: the history fields plus whose it is and what the caller may need."""

    subscriber = SubscriberSerializer(read_only=True)

    class Meta(HistoryCaseSerializer.Meta):
        fields = [*HistoryCaseSerializer.Meta.fields, "subscriber", "external_id", "version"]


class SubscriberLookupSerializer(serializers.Serializer):
    subscriber = SubscriberSerializer()
    open_cases = HistoryCaseSerializer(many=True)
    recent_cases = HistoryCaseSerializer(many=True)
    total_cases = serializers.IntegerField()
    cases_in_repeat_window = serializers.IntegerField()
    is_repeat_victim = serializers.BooleanField()


class CaseCreatedSerializer(CaseListSerializer):
    """The 201 answer to POST /cases/: the case with its pinned playbook's steps.

    The view passes the steps in context so this serializer runs no query of its own."""

    playbook = serializers.SerializerMethodField()

    class Meta(CaseListSerializer.Meta):
        fields = [*CaseListSerializer.Meta.fields, "code_disclosed", "password_disclosed",
                  "personal_data_disclosed", "money_lost", "money_amount", "playbook"]  # fmt: skip

    @extend_schema_field(PinnedPlaybookSerializer(allow_null=True))
    def get_playbook(self, case: Case) -> dict | None:
        version: PlaybookVersion | None = self.context.get("playbook_version")
        playbook: Playbook | None = self.context.get("playbook")
        if version is None or playbook is None:
            return None
        return {
            "slug": playbook.slug,
            "title": playbook.title,
            "version": version.number,
            "steps": StepSerializer(self.context.get("steps", []), many=True).data,
        }


class CaseEventSerializer(MasksPersonalData, ModelSerializer):
    text_fields = ("text",)

    actor = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CaseEvent
        fields = ["id", "kind", "actor", "text", "data", "created_at"]


class StepOutcomeSerializer(ModelSerializer):
    actor = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = StepOutcome
        fields = ["step", "result", "note", "actor", "recorded_at"]


class CaseStepSerializer(StepSerializer):
    outcome = serializers.SerializerMethodField()

    class Meta(StepSerializer.Meta):
        fields = [*StepSerializer.Meta.fields, "outcome"]

    @extend_schema_field(StepOutcomeSerializer(allow_null=True))
    def get_outcome(self, step: Step) -> dict | None:
        outcome = self.context["outcomes"].get(step.pk)
        return StepOutcomeSerializer(outcome).data if outcome else None


class IdentifierSerializer(ModelSerializer):
    case_count = serializers.IntegerField(
        read_only=True, help_text=_("В скольких обращениях встречался")
    )

    class Meta:
        model = ScammerIdentifier
        fields = ["id", "kind", "value", "display", "first_seen_at", "case_count"]


class ChatMessageSerializer(MasksPersonalData, ModelSerializer):
    text_fields = ("text",)
    # A reply written here: its delivery to the chat backend (null for lines that came from it).
    delivery_status = serializers.ChoiceField(
        source="delivery.status",
        choices=Delivery.Status.choices,
        read_only=True,
        allow_null=True,
        default=None,
    )

    class Meta:
        model = ChatMessage
        fields = ["id", "external_id", "author", "text", "sent_at", "created_at", "delivery_status"]


class ReminderSerializer(MasksPersonalData, ModelSerializer):
    text_fields = ("text",)

    class Meta:
        model = Reminder
        fields = ["id", "step", "text", "parts", "send_after", "status", "sent_at", "delivered_at"]


class SuggestionSerializer(MasksPersonalData, ModelSerializer):
    # Found in the case's texts: as personal as they are for whoever sees them masked.
    text_fields = ("value", "display")

    class Meta:
        model = IdentifierSuggestion
        fields = ["id", "kind", "value", "display"]


class CaseDetailSerializer(CaseCreatedSerializer):
    text_fields = ("summary", "description")

    """The case with its timeline, steps and outcomes, identifiers, chat and reminders.

    Everything comes from the prefetches and the context the view filled."""

    created_by = UserRefSerializer(read_only=True, allow_null=True)
    timeline = CaseEventSerializer(source="events", many=True, read_only=True)
    messages = ChatMessageSerializer(many=True, read_only=True)
    # Identifiers found in its texts, offered to add (POST …/suggestions/{id}/).
    suggestions = SuggestionSerializer(many=True, read_only=True)
    identifiers = serializers.SerializerMethodField()
    reminders = ReminderSerializer(many=True, read_only=True)

    class Meta(CaseCreatedSerializer.Meta):
        fields = [*CaseCreatedSerializer.Meta.fields, "description", "created_by", "updated_at",
                  "first_action_at", "resolved_at", "closed_at", "timeline", "messages",
                  "suggestions", "identifiers", "reminders"]  # fmt: skip

    @extend_schema_field(PinnedPlaybookSerializer(allow_null=True))
    def get_playbook(self, case: Case) -> dict | None:
        version = case.playbook_version
        if version is None:
            return None
        return {
            "slug": version.playbook.slug,
            "title": version.playbook.title,
            "version": version.number,
            "steps": CaseStepSerializer(
                self.context["steps"], many=True, context={"outcomes": self.context["outcomes"]}
            ).data,
        }

    @extend_schema_field(IdentifierSerializer(many=True))
    def get_identifiers(self, case: Case) -> Any:
        return IdentifierSerializer(self.context["identifiers"], many=True).data


# --- Inputs ------------------------------------------------------------------------------------


class CategorySlugField(serializers.SlugRelatedField):
    """A category by slug; anything that cannot be a slug (NUL bytes, spaces) is a 400
    before it reaches the database (PostgreSQL refuses NUL in text: a 500 otherwise)."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(r"[-a-zA-Z0-9_]{1,64}", data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data)[:64])
        # The active ones, kept a few seconds per process (playbooks.selectors).
        category = active_category(data)
        if category is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return category


class CaseOpenInputSerializer(StrictInput):
    channel = serializers.ChoiceField(choices=Channel.choices)
    phone = PhoneField()
    category = CategorySlugField(slug_field="slug", queryset=Category.objects.active())
    summary = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    external_id = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=128,
        help_text=_("Идентификатор звонка или чата"),
    )  # fmt: skip
    subscriber_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200
    )
    # Empty or null: the number's zone, else Moscow (an HTML form sends empty).
    time_zone = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, default=None, max_length=64
    )
    code_disclosed = serializers.BooleanField(required=False, default=False)
    password_disclosed = serializers.BooleanField(required=False, default=False)
    personal_data_disclosed = serializers.BooleanField(required=False, default=False)
    money_lost = serializers.BooleanField(required=False, default=False)
    money_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True, default=None,
        min_value=0,
    )  # fmt: skip

    # A known time zone is the service's rule (cases.phones.validate_time_zone).


class CaseUpdateInputSerializer(StrictInput):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    category = CategorySlugField(
        slug_field="slug", queryset=Category.objects.active(), required=False
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    summary = serializers.CharField(max_length=300, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    comment = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text=_("Комментарий к смене статуса"))  # fmt: skip

    def validate(self, attrs: dict) -> dict:
        if not (set(attrs) - {"comment"}):
            raise serializers.ValidationError(_("Нечего изменять."))
        return attrs


class ChatMessageInputSerializer(StrictInput):
    external_id = serializers.CharField(max_length=128)
    author = serializers.ChoiceField(choices=ChatMessage.Author.choices)
    text = serializers.CharField(max_length=10_000)
    sent_at = DateTimeField()


class SuggestionInputSerializer(StrictInput):
    action = serializers.ChoiceField(choices=[("add", "add"), ("dismiss", "dismiss")])


class SuggestionResultSerializer(serializers.Serializer):
    identifier = IdentifierSerializer(allow_null=True, help_text="Добавленный (null: отклонено)")


class ChatReplyInputSerializer(StrictInput):
    # The length rule is the service's (case_chat_reply); this only bounds the request.
    text = serializers.CharField(max_length=10_000, trim_whitespace=False)
    # Or the Idempotency-Key header: the same key twice is the same message.
    request_id = serializers.CharField(max_length=100, required=False)


class ChatStateInputSerializer(StrictInput):
    state = serializers.ChoiceField(choices=ChatState.choices)
    # When the session changed, by the chat backend's clock (default: now).
    changed_at = DateTimeField(required=False)


class ChatStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=ChatState.choices)
    changed_at = serializers.DateTimeField()
    changed = serializers.BooleanField()


class StepOutcomeInputSerializer(StrictInput):
    result = serializers.ChoiceField(choices=StepOutcome.Result.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class NoteInputSerializer(StrictInput):
    # The length rule is the service's (case_add_note); this only bounds the request.
    text = serializers.CharField(max_length=100_000, trim_whitespace=False)


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class IdentifierInputSerializer(StrictInput):
    kind = serializers.ChoiceField(choices=ScammerIdentifier.Kind.choices)
    value = serializers.CharField(max_length=500)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
