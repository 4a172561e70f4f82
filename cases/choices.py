"""The case workflow's vocabulary: channels, statuses and their transitions, outcomes.

The bottom of the cases app: the models, the access rules and the services read these, and
this module imports nothing of the project."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    HOTLINE = "hotline", _("Линия 611")
    CHAT = "chat", _("Чат в приложении")
    OTHER = "other", _("Другое")


class IdentifierKind(models.TextChoices):
    """What a scammer left behind: how they called, wrote, linked or took the money."""

    PHONE = "phone", _("Номер телефона")
    SENDER = "sender", _("Имя отправителя SMS")
    LINK = "link", _("Сайт")
    CARD = "card", _("Банковская карта")
    MESSENGER = "messenger", _("Аккаунт в мессенджере")
    ACCOUNT = "account", _("Банковский счёт")


class ChatState(models.TextChoices):
    """The subscriber's chat session, as the chat backend reports it."""

    OPEN = "open", _("Абонент в чате")
    CLOSED_BY_SUBSCRIBER = "closed_by_subscriber", _("Абонент закрыл чат")
    TIMED_OUT = "timed_out", _("Чат закрыт по тайм-ауту")


class Status(models.TextChoices):
    NEW = "new", _("Новое")
    IN_PROGRESS = "in_progress", _("В работе")
    WAITING = "waiting", _("Ждём абонента")
    RESOLVED = "resolved", _("Решено")
    CLOSED = "closed", _("Закрыто")


OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS, Status.WAITING)

# The workflow: from each status, where a case may go. resolved/closed → in_progress is a reopen.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.NEW: (Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED, Status.CLOSED),
    Status.IN_PROGRESS: (Status.WAITING, Status.RESOLVED, Status.CLOSED),
    Status.WAITING: (Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED),
    Status.RESOLVED: (Status.CLOSED, Status.IN_PROGRESS),
    Status.CLOSED: (Status.IN_PROGRESS,),
}


class Outcome(models.TextChoices):
    NO_HARM = "no_harm", _("Ущерба нет")
    CODE_DISCLOSED = "code_disclosed", _("Код раскрыт")
    ACCOUNT_TAKEN_OVER = "account_taken_over", _("Аккаунт захвачен")
    MONEY_LOST = "money_lost", _("Потеряны деньги")
    REFERRED_BANK = "referred_bank", _("Направлен в банк")
    REFERRED_GOSUSLUGI = "referred_gosuslugi", _("Направлен в поддержку Госуслуг")
    REFERRED_POLICE = "referred_police", _("Направлен в полицию")
    DUPLICATE = "duplicate", _("Дубликат")


# Outcomes that need no playbook work: nothing happened, or the case is handled elsewhere.
OUTCOMES_WITHOUT_STEPS = (Outcome.DUPLICATE,)

# Outcomes after which pending follow-up SMS make no sense: nothing happened, or a duplicate.
OUTCOMES_CANCELLING_SMS = (Outcome.NO_HARM, Outcome.DUPLICATE)
