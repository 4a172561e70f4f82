"""Staff page forms: they parse and validate input; the services do the work."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from playbooks.models import Category

from .models import Channel, Outcome, ScammerIdentifier, Status, StepOutcome
from .phones import normalize_msisdn
from .roles import Role
from .selectors import CaseFilters, StaffShow

# Russia's zones, west to east, with the offset from Moscow a specialist says aloud.
RUSSIAN_TIME_ZONES = [
    ("Europe/Kaliningrad", _("МСК−1 · Калининград")),
    ("Europe/Moscow", _("МСК · Москва")),
    ("Europe/Samara", _("МСК+1 · Самара, Ижевск")),
    ("Asia/Yekaterinburg", _("МСК+2 · Екатеринбург, Пермь, Тюмень")),
    ("Asia/Omsk", _("МСК+3 · Омск")),
    ("Asia/Novosibirsk", _("МСК+4 · Новосибирск, Барнаул, Томск")),
    ("Asia/Krasnoyarsk", _("МСК+4 · Красноярск, Кемерово")),
    ("Asia/Irkutsk", _("МСК+5 · Иркутск, Улан-Удэ")),
    ("Asia/Yakutsk", _("МСК+6 · Якутск, Чита, Благовещенск")),
    ("Asia/Vladivostok", _("МСК+7 · Владивосток, Хабаровск")),
    ("Asia/Magadan", _("МСК+8 · Магадан, Сахалин")),
    ("Asia/Kamchatka", _("МСК+9 · Камчатка, Чукотка")),
]
TIME_ZONE_LABELS = dict(RUSSIAN_TIME_ZONES)


class StaffForm(forms.Form):
    """Labels without a colon; each field in its own <div class="field"> with its errors."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.template_name = "cases/forms/field.html"  # type: ignore[attr-defined]  # Django 5.0 attribute, not in django-stubs


class DateField(forms.DateField):
    """A date the lists and reports can compute with: from 2000 to 2100. Year 9999 is a valid
    date, but the day after it is not (a 500 before this bound)."""

    def __init__(self, **kwargs: Any) -> None:
        message = _("Дата вне допустимого диапазона (2000–2100).")
        kwargs.setdefault("validators", [])
        kwargs["validators"] = [
            *kwargs["validators"],
            MinValueValidator(date(2000, 1, 1), message),
            MaxValueValidator(date(2100, 12, 31), message),
        ]
        super().__init__(**kwargs)


class PhoneField(forms.CharField):
    """Any common format in, E.164 out; Russian messages from normalize_msisdn."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return ""
        return normalize_msisdn(value)


class CategoryField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        playbook = getattr(obj, "playbook", None)
        return f"{obj.name} · {_('сценарий')} «{playbook.title}»" if playbook else obj.name


class NewContactForm(StaffForm):
    phone = PhoneField(
        label=_("Телефон абонента"),
        max_length=32,
        error_messages={"required": _("Укажите номер телефона.")},
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "inputmode": "tel",
                "placeholder": "8 916 123-45-67",
                "accesskey": "t",
            }
        ),
    )
    # Empty until the card has looked the number up (it then suggests one): an unasked zone
    # must not read as «МСК−1 · Калининград», the list's first entry.
    # The PBX's callId when the form was opened from a screen pop: the case's external id,
    # which links the call to the case (calls.signals).
    call_id = forms.CharField(required=False, max_length=128, widget=forms.HiddenInput)
    time_zone = forms.ChoiceField(
        label=_("Часовой пояс абонента"),
        choices=[("", _("— по номеру, иначе Москва —")), *RUSSIAN_TIME_ZONES],
        required=False,
    )
    category = CategoryField(
        label=_("Категория"),
        queryset=Category.objects.active().select_related("playbook"),
        empty_label=_("— выберите —"),
        error_messages={"required": _("Выберите категорию.")},
    )
    channel = forms.ChoiceField(label=_("Канал"), choices=Channel.choices, initial=Channel.HOTLINE)
    code_disclosed = forms.BooleanField(label=_("Сообщил код из SMS"), required=False)
    password_disclosed = forms.BooleanField(label=_("Сообщил пароль"), required=False)
    personal_data_disclosed = forms.BooleanField(
        label=_("Сообщил паспорт, СНИЛС или другие данные"), required=False
    )
    money_lost = forms.BooleanField(label=_("Потерял деньги"), required=False)
    money_amount = forms.DecimalField(
        label=_("Сумма, ₽"),
        required=False,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        localize=True,
        error_messages={
            "invalid": _("Введите сумму числом, например 15000 или 15000,50."),
            "min_value": _("Сумма не может быть отрицательной."),
        },
    )
    summary = forms.CharField(
        label=_("Кратко"),
        max_length=300,
        error_messages={
            "required": _("Опишите обращение в двух словах."),
            "max_length": _("Не больше %(limit_value)d символов."),
        },
        widget=forms.TextInput(attrs={"placeholder": _("Звонили из «службы безопасности банка»")}),
    )
    description = forms.CharField(
        label=_("Подробности"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data.get("money_amount") and not data.get("money_lost"):
            data["money_lost"] = True
        if data.get("money_lost") and data.get("money_amount") is None:
            self.add_error("money_amount", _("Укажите сумму потерь (можно примерно)."))
        return data


STALE_FORM = _("Форма устарела: обновите страницу.")


class CaseWriteForm(StaffForm):
    """A write on a case carries the version of the case the person saw (the page renders it
    as <input name="version" class="case-version">); the service refuses a stale one."""

    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        error_messages={"required": STALE_FORM, "invalid": STALE_FORM, "min_value": STALE_FORM},
    )


class StepForm(CaseWriteForm):
    result = forms.ChoiceField(
        choices=StepOutcome.Result.choices,
        error_messages={
            "required": _("Выберите результат шага."),
            "invalid_choice": _("Выберите результат шага."),
        },
    )
    # The limit is the service's (case_record_step); the form only keeps what was typed.
    note = forms.CharField(required=False)


class NoteForm(CaseWriteForm):
    text = forms.CharField(
        label=_("Заметка"),
        widget=forms.Textarea(attrs={"rows": 3, "accesskey": "z"}),
        error_messages={"required": _("Заметка пуста.")},
    )


class IdentifierForm(CaseWriteForm):
    kind = forms.ChoiceField(label=_("Тип"), choices=ScammerIdentifier.Kind.choices)
    value = forms.CharField(
        label=_("Значение"),
        max_length=500,
        error_messages={"required": _("Укажите значение.")},
    )


class SuggestionForm(CaseWriteForm):
    action = forms.ChoiceField(
        choices=[("add", _("Добавить")), ("dismiss", _("Не то"))],
        error_messages={"required": STALE_FORM, "invalid_choice": STALE_FORM},
    )


class ChatReplyForm(CaseWriteForm):
    """A specialist's answer in the subscriber's chat; `request_id` made when the form is
    rendered, so a double submit (Ctrl+Enter twice, a retry) is one message."""

    text = forms.CharField(
        label=_("Ответ абоненту"),
        strip=False,  # the service strips; the typed text comes back as typed on errors
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": _("Напишите ответ."),
            "max_length": _("Слишком длинный ответ (не больше %(limit_value)d символов)."),
        },
    )
    request_id = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Форма устарела: обновите страницу."),
            "invalid": _("Форма устарела: обновите страницу."),
        },
    )


class ReminderForm(CaseWriteForm):
    """A specialist's SMS to the subscriber. `request_id` is made when the form is rendered,
    so a double submit (or a retry after a timeout) schedules one SMS, not two."""

    DELAYS = [
        (0, _("сейчас")),
        (15, _("через 15 минут")),
        (60, _("через 1 час")),
        (180, _("через 3 часа")),
        (1440, _("через сутки")),
    ]

    text = forms.CharField(
        label=_("Текст SMS"),
        strip=False,  # the service strips; the typed text comes back as typed on errors
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "data-sms-counter": "sms-counter"}),
        error_messages={
            "required": _("Текст SMS пуст."),
            "max_length": _("Слишком длинный текст (не больше %(limit_value)d символов)."),
        },
    )
    delay = forms.TypedChoiceField(
        label=_("Отправить"),
        choices=DELAYS,
        coerce=int,
        initial=0,
        error_messages={"invalid_choice": _("Выберите, когда отправить.")},
    )
    request_id = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Форма устарела: обновите страницу."),
            "invalid": _("Форма устарела: обновите страницу."),
        },
    )

    def send_after(self) -> datetime:
        return timezone.now() + timedelta(minutes=self.cleaned_data["delay"])


class TakeForm(CaseWriteForm):
    pass


class SmsCancelForm(CaseWriteForm):
    pass


class StatusForm(CaseWriteForm):
    status = forms.ChoiceField(label=_("Новый статус"), choices=Status.choices)
    outcome = forms.ChoiceField(
        label=_("Итог"), choices=[("", _("— итог —")), *Outcome.choices], required=False
    )
    comment = forms.CharField(label=_("Комментарий"), required=False, max_length=2000)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = set(case.allowed_next_statuses())
        status = cast(forms.ChoiceField, self.fields["status"])  # declared above as one
        status.choices = [(v, lbl) for v, lbl in Status.choices if v in allowed]


def specialists_queryset():
    return (
        get_user_model()
        .objects.filter(groups__name=Role.SPECIALIST, is_active=True)
        .order_by("last_name", "first_name", "username")
    )


class AssignForm(StaffForm):
    """Assign or reassign one or many cases; no assignee means "back to the queue"."""

    assignee: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None,
        required=False,
        error_messages={"invalid_choice": _("Нет такого специалиста.")},
    )
    # Set by the confirmation page: the supervisor saw the warnings (away, over the cap).
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assignee = cast(forms.ModelChoiceField, self.fields["assignee"])  # declared above
        assignee.queryset = specialists_queryset()

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        raw = self.data.getlist("cases") if hasattr(self.data, "getlist") else []
        # ASCII digits only: "²".isdigit() is true, and int("²") fails.
        data["cases"] = sorted({int(v) for v in raw if str(v).isascii() and str(v).isdigit()})
        if not data["cases"]:
            raise ValidationError(_("Отметьте хотя бы одно обращение."))
        return data


class AbsenceForm(StaffForm):
    """Away or back: «перерыв N минут», «вернулся», or a planned window."""

    user = forms.IntegerField()
    action = forms.ChoiceField(
        choices=[("break", ""), ("back", ""), ("planned", "")],
        error_messages={"invalid_choice": _("Неверное действие.")},
    )
    minutes = forms.IntegerField(required=False, min_value=1, max_value=240)
    starts_at = forms.DateTimeField(
        label=_("С"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label=_("По"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(label=_("Примечание"), required=False, max_length=200)


class AvailabilityForm(StaffForm):
    user = forms.IntegerField()
    is_available = forms.TypedChoiceField(coerce=lambda v: v == "1", choices=[("1", ""), ("0", "")])


class StaffFilterForm(StaffForm):
    """The supervisor's staff table: whom to show, found by name, a page at a time."""

    q = forms.CharField(label=_("Найти"), required=False, max_length=100)
    show = forms.ChoiceField(
        label=_("Показать"),
        required=False,
        choices=StaffShow.choices,
    )
    page = forms.IntegerField(
        label=_("Страница"), required=False, min_value=1, widget=forms.HiddenInput
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "staff-%s")  # beside the page's other forms
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.input_type = "search"


class CaseFilterForm(StaffForm):
    """The lists' filters. Bad values are reported, never silently widened."""

    status = forms.ChoiceField(
        label=_("Статус"),
        required=False,
        choices=[("", _("все")), ("open", _("открытые")), *Status.choices],
    )
    # By slug, as in the API: /cases/?category=sim-swap reads and links well.
    category = forms.ModelChoiceField(
        label=_("Категория"),
        queryset=Category.objects.all(),
        required=False,
        empty_label=_("все"),
        to_field_name="slug",
    )
    channel = forms.ChoiceField(
        label=_("Канал"), required=False, choices=[("", _("все")), *Channel.choices]
    )
    assignee = forms.ChoiceField(label=_("Исполнитель"), required=False)
    period = forms.ChoiceField(
        label=_("Период"),
        required=False,
        choices=[
            ("", _("всё время")),
            ("today", _("сегодня")),
            ("7d", _("7 дней")),
            ("30d", _("30 дней")),
            ("custom", _("даты…")),
        ],
    )
    date_from = DateField(
        label=_("с"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = DateField(
        label=_("по"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    phone = forms.CharField(label=_("Телефон"), required=False, max_length=32)
    number = forms.CharField(label=_("Номер обращения"), required=False, max_length=32)
    q = forms.CharField(label=_("Поиск по тексту"), required=False, max_length=200)
    identifier = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, by_assignee=True, **kwargs):
        super().__init__(*args, **kwargs)
        if not by_assignee:  # «Мои обращения»: the assignee is the viewer
            del self.fields["assignee"]
            return
        # The specialists come when the person opens the list (cases:assignee_options): a
        # center of 3,000 people made every list render 3,000 options nobody looked at.
        field = cast(forms.ChoiceField, self.fields["assignee"])  # declared above
        chosen = str(self.data.get("assignee", "")) if self.is_bound else ""
        shown = specialists_queryset().filter(pk=int(chosen)) if chosen.isdigit() else []
        field.choices = [
            ("", _("все")),
            ("me", _("я")),
            ("none", _("не назначено")),
            *((str(u.pk), u.get_full_name() or u.username) for u in shown),
        ]
        field.widget.attrs.update(
            {
                "hx-get": reverse("cases:assignee_options") + "?" + urlencode({"selected": chosen}),
                "hx-trigger": "focus once, mouseenter once",
                "hx-swap": "beforeend",
            }
        )

    def clean_phone(self):
        raw = self.cleaned_data.get("phone", "").strip()
        return normalize_msisdn(raw) if raw else ""

    def clean_number(self) -> str:
        """«26-000061», «26-61», «№ 61» or just «61» (the number's digits are the case id)."""
        raw = re.sub(r"[\s№#]", "", self.cleaned_data.get("number") or "")
        if not raw:
            return ""
        if re.fullmatch(r"[0-9]{1,12}", raw):
            return raw
        match = re.fullmatch(r"([0-9]{2})-([0-9]{1,12})", raw)
        if not match:
            raise ValidationError(_("Номер обращения — как 26-000061 или только цифры: 61."))
        return f"{match[1]}-{int(match[2]):06d}"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            # As the reports page says: an empty list here would look like "no cases".
            self.add_error("date_to", _("Конец периода раньше начала."))
        return data

    def filters(self, *, user) -> CaseFilters:
        d = self.cleaned_data
        tz = timezone.get_current_timezone()
        start = end = None
        today = timezone.localdate()
        if d.get("period") == "today":
            start = today
        elif d.get("period") == "7d":
            start = today - timedelta(days=6)
        elif d.get("period") == "30d":
            start = today - timedelta(days=29)
        elif d.get("period") == "custom" or d.get("date_from") or d.get("date_to"):
            start = d.get("date_from")
            end = d.get("date_to")
        assignee = d.get("assignee") or ""
        return CaseFilters(
            status=d.get("status") or "",
            category_id=d["category"].pk if d.get("category") else None,
            channel=d.get("channel") or "",
            unassigned=assignee == "none",
            assignee_id=user.pk
            if assignee == "me"
            else (int(assignee) if assignee.isdigit() else None),
            created_from=datetime.combine(start, time.min, tz) if start else None,
            created_to=datetime.combine(end + timedelta(days=1), time.min, tz) if end else None,
            msisdn=d.get("phone") or "",
            number="" if (d.get("number") or "").isdigit() else d.get("number") or "",
            case_id=int(d["number"]) if (d.get("number") or "").isdigit() else None,
            text=(d.get("q") or "").strip(),
            identifier_id=d.get("identifier"),
        )
