"""A small fixed data set for March 2026 (Moscow time) with hand-computed answers.

In the period (5 cases):
  c1 hotline A  P1 02.03 10:00  first +10 min  resolved +60 (due +240)   no_harm         spec
  c2 chat    A  P2 02.03 23:30  first +20      resolved +300 (due +30)   money_lost      spec
                code disclosed, money lost 15 000,50
  c3 hotline B  P1 03.03 00:30  first +30      open, due passed                          spec2
                repeat: P1's c1 was 14.5 h earlier
  c4 hotline B  P3 10.03 12:00  first +40      resolved +120 (due +240)  referred_bank   spec2
                money lost 5 000; P3's previous case c0 (15.01) is 54 days earlier: not repeat
  c7 other   A  P4 05.03 09:00  first +50      resolved +200 (due +240)  referred_police spec
                repeat: P4's c6 (20.02, before the period) is 13 days earlier
Outside: c0 P3 15.01, c6 P4 20.02, c5 chat A P2 20.04 (with an identifier, a step, an SMS).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import timezone

from cases.models import Case, CaseIdentifier, ScammerIdentifier, StepOutcome
from playbooks.models import Category, Step
from reminders.models import Reminder
from reports.filters import ReportFilter

MSK = ZoneInfo("Europe/Moscow")
MARCH = ReportFilter(date_from=datetime(2026, 3, 1).date(), date_to=datetime(2026, 3, 31).date())


def msk(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


@dataclass
class DataSet:
    cases: dict[str, Case]
    category_a: Category
    category_b: Category
    period: ReportFilter


@pytest.fixture(autouse=True)
def _empty_report_cache(settings):
    # Past periods' reports are cached (reports/selectors.report_build): every test starts
    # with an empty cache, as a fresh deployment would. The figure tests change the data
    # between two reads and compare: the minute every report is shared for is off for them
    # (tests/reports/test_live_cache.py turns it on).
    settings.REPORTS_LIVE_CACHE_SECONDS = 0
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dataset(make_case, category, specialist, specialist2) -> DataSet:
    category_b = Category.objects.create(slug="bank", name="Звонок «из банка»", sla_minutes=240)
    rows = {
        # name: channel, category, phone, created, first, resolved, due, outcome, assignee, extra
        "c1": ("hotline", category, "+79161110001", msk(3, 2, 10), 10, 60, 240, "no_harm",
               specialist, {}),
        "c2": ("chat", category, "+79161110002", msk(3, 2, 23, 30), 20, 300, 30, "money_lost",
               specialist, {"code_disclosed": True, "money_lost": True,
                            "money_amount": Decimal("15000.50")}),
        "c3": ("hotline", category_b, "+79161110001", msk(3, 3, 0, 30), 30, None, 240, "",
               specialist2, {}),
        "c4": ("hotline", category_b, "+79161110003", msk(3, 10, 12), 40, 120, 240,
               "referred_bank", specialist2, {"money_lost": True,
                                              "money_amount": Decimal("5000")}),
        "c7": ("other", category, "+79161110004", msk(3, 5, 9), 50, 200, 240, "referred_police",
               specialist, {}),
        "c0": ("hotline", category, "+79161110003", msk(1, 15, 9), 5, 30, 240, "no_harm",
               None, {}),
        "c6": ("hotline", category, "+79161110004", msk(2, 20, 9), 5, 30, 240, "no_harm",
               None, {}),
        "c5": ("chat", category, "+79161110002", msk(4, 20, 9), 5, 30, 240, "no_harm",
               specialist, {}),
    }  # fmt: skip
    cases = {}
    for name, (
        channel,
        cat,
        phone,
        created,
        first,
        resolved,
        due,
        outcome,
        who,
        extra,
    ) in rows.items():
        case = make_case(
            channel=channel,
            category=cat,
            phone=phone,
            subscriber_name="Иван Петров",
            summary=f"Звонили с +7 495 123-45-67 ({name})",
        )
        Case.objects.filter(pk=case.pk).update(
            created_at=created,
            first_action_at=created + timedelta(minutes=first),
            resolved_at=created + timedelta(minutes=resolved) if resolved else None,
            status="closed" if resolved else "in_progress",
            due_at=created + timedelta(minutes=due),
            outcome=outcome,
            assignee=who,
            **extra,
        )
        case.refresh_from_db()
        cases[name] = case

    x1 = ScammerIdentifier.objects.create(kind="phone", value="+74951111111")
    x2 = ScammerIdentifier.objects.create(kind="phone", value="+74952222222")
    s1 = ScammerIdentifier.objects.create(kind="sender", value="BANK-SECURITY")
    for ident, names in ((x1, ["c1", "c3", "c4", "c5"]), (x2, ["c2"]), (s1, ["c2", "c7"])):
        for name in names:
            CaseIdentifier.objects.create(case=cases[name], identifier=ident)

    steps = list(
        Step.objects.filter(version=category.playbook.current_version).order_by("position")
    )
    for name, step, result in (
        ("c1", 0, "done"), ("c1", 1, "done"), ("c1", 2, "refused"),
        ("c2", 0, "done"), ("c2", 1, "not_applicable"), ("c5", 0, "escalated"),
    ):  # fmt: skip
        StepOutcome.objects.create(case=cases[name], step=steps[step], result=result)

    for i, (name, status, shifted, created) in enumerate((
        ("c1", "delivered", False, msk(3, 2, 11)),
        ("c2", "failed", False, msk(3, 3, 1)),
        ("c4", "skipped_opt_out", False, msk(3, 10, 13)),
        ("c7", "scheduled", True, msk(3, 5, 10)),
        ("c5", "sent", False, msk(4, 20, 10)),
    )):  # fmt: skip
        case = cases[name]
        Reminder.objects.create(
            case=case, subscriber=case.subscriber, text="Проверьте вход в Госуслуги.",
            send_after=created, shifted_by_quiet_hours=shifted, status=status,
            dedupe_key=f"test-{i}", created_at=created,
        )  # fmt: skip
    assert timezone.now() > msk(4, 30, 0)  # the open case c3 is overdue
    return DataSet(cases=cases, category_a=category, category_b=category_b, period=MARCH)
