"""SMS encodings (issue 17): GSM 03.38 when the whole text fits it, UCS-2 otherwise; the part
count the staff page shows, the one stored and the number of submits are one number; parts
never split a surrogate pair or a GSM escape."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from playbooks.sms_text import sms_parts, sms_split
from reminders import services
from reminders.backends import reset_backend
from reminders.backends.smpp import encode_parts
from reminders.models import Reminder

from .smsc import decode

LATIN = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,!?-:()@£$"
EXTENSION = "^{}\\[~]|€"
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД"
EMOJI = "😀🙂🔒📱✅"
texts = st.text(alphabet=st.sampled_from(list(LATIN + EXTENSION + CYRILLIC + EMOJI)), max_size=700)
gsm_texts = st.text(alphabet=st.sampled_from(list(LATIN + EXTENSION)), max_size=1200)

pytestmark = pytest.mark.usefixtures("no_quiet_hours")  # these send "now"


def _units(part: str, encoding: str) -> int:
    if encoding == "gsm7":
        return sum(2 if ch in EXTENSION else 1 for ch in part)
    return len(part.encode("utf-16-be")) // 2


@hsettings(max_examples=300, deadline=None)
@given(st.one_of(texts, gsm_texts))
def test_the_split_keeps_the_text_fits_each_part_and_counts_once(text):
    split = sms_split(text)
    assert "".join(split.parts) == text
    gsm = all(ch in LATIN + EXTENSION for ch in text)
    assert split.encoding == ("gsm7" if gsm else "ucs2")
    single, per_part = (160, 153) if gsm else (70, 67)
    if len(split.parts) == 1:
        assert _units(text, split.encoding) <= single
    else:
        assert all(_units(p, split.encoding) <= per_part for p in split.parts)
        assert _units(text, split.encoding) > single
    assert sms_parts(text) == (len(text), len(split.parts))


@hsettings(max_examples=300, deadline=None)
@given(st.one_of(texts, gsm_texts).filter(bool))
def test_the_submits_are_the_parts_and_a_handset_reads_the_text_back(text):
    bodies, data_coding, esm_class = encode_parts(text)
    assert len(bodies) == sms_parts(text)[1]
    if len(bodies) > 1:
        assert esm_class & 0x40
        bodies = [b[6:] for b in bodies]  # the 6-octet concatenation header
    for body in bodies:
        if data_coding == 0:
            assert not body.endswith(b"\x1b")  # never an escape without its character
            assert len(body) <= (160 if len(bodies) == 1 else 153)
        else:
            assert not 0xD8 <= body[-2] <= 0xDB  # never half a surrogate pair
            assert len(body) <= (140 if len(bodies) == 1 else 134)
    assert "".join(decode(b, data_coding) for b in bodies) == text


@pytest.mark.parametrize(
    ("text", "parts", "coding"),
    [("L" * 143, 1, 0), ("L" * 908, 6, 0), ("{" * 80, 1, 0), ("{" * 81, 2, 0),
     ("Код никому не сообщайте", 1, 8), ("я" * 71, 2, 8), ("😀" * 35, 1, 8), ("😀" * 36, 2, 8)],
)  # fmt: skip
def test_the_examples_from_the_field(text, parts, coding):
    bodies, data_coding, _esm = encode_parts(text)
    assert (len(bodies), data_coding, sms_parts(text)[1]) == (parts, coding, parts)


@pytest.mark.django_db
def test_latin_goes_as_gsm7_and_the_stored_count_is_the_submits(smsc, sms_case, specialist):
    latin = "Your case is registered. Never tell anyone the codes from SMS. " * 4  # 256 chars
    emoji = "Никому не называйте код 🔒 " * 4
    case = sms_case()
    Reminder.objects.filter(case=case).delete()
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))):
        for i, text in enumerate([latin.strip(), emoji.strip()]):
            services.reminder_schedule_manual(
                case=case, text=text, send_after=None, request_id=f"e{i}", actor=specialist
            )
        Reminder.objects.update(send_after=timezone.now() - timedelta(seconds=1))
        assert services.reminders_dispatch(budget_seconds=0) == 2
    stored = sum(Reminder.objects.filter(case=case).values_list("parts", flat=True))
    assert stored == len(smsc.submits) == 2 + 2
    assert sorted(smsc.handset_texts()) == sorted([latin.strip(), emoji.strip()])
    assert {s.data_coding for s in smsc.submits} == {0, 8}


# --- Inbound: numbers by their type, opt-outs kept (issue 17) ---------------------------------


@pytest.mark.parametrize(
    ("source", "ton", "msisdn"),
    [("89995200000", 2, "+79995200000"), ("79995200000", 2, "+79995200000"),
     ("9995200000", 0, "+79995200000"), ("79995200000", 1, "+79995200000"),
     ("+79995200000", 1, "+79995200000")],
)  # fmt: skip
def test_an_inbound_sender_is_normalised_by_its_type_of_number(source, ton, msisdn):
    from reminders.backends.smpp import inbound_msisdn

    assert inbound_msisdn(source, ton) == msisdn


@pytest.mark.django_db
def test_a_national_stop_from_a_number_with_no_case_yet_is_kept(
    smsc, category, integration, caplog
):
    import time

    from cases.models import Subscriber
    from cases.services import case_open

    backend = services.get_backend()
    backend.send_messages([])  # binds the session, as the dispatcher's first tick would
    assert smsc.send_inbound("Стоп", "89995200000", ton=2, npi=1) == 1
    for _ in range(100):
        services.reminders_poll_backend()
        if Subscriber.objects.filter(msisdn="+79995200000").exists():
            break
        time.sleep(0.05)
    subscriber = Subscriber.objects.get(msisdn="+79995200000")
    assert subscriber.sms_opt_out
    assert any("inbound SMS" in r.getMessage() for r in caplog.records)
    case = case_open(
        actor=integration, channel="hotline", category=category, phone="8 999 520-00-00",
        summary="Снова звонили",
    )  # fmt: skip
    assert case.subscriber.pk == subscriber.pk
    assert not Reminder.objects.filter(case=case, status=Reminder.Status.SCHEDULED).exists()


# --- A long SMS is one unit (issue 17) ---------------------------------------------------------

LONG = "Обращение принято. Никому не называйте коды из SMS и не переходите по ссылкам. " * 4


def _schedule(sms_case, specialist, texts):
    case = sms_case()
    Reminder.objects.filter(case=case).delete()
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))):
        for i, text in enumerate(texts):
            services.reminder_schedule_manual(
                case=case, text=text, send_after=None, request_id=f"u{i}", actor=specialist
            )
    Reminder.objects.update(send_after=timezone.now() - timedelta(seconds=1))
    return list(Reminder.objects.filter(case=case).order_by("pk"))


def _dispatch_until_settled(smsc, rounds: int = 20) -> None:
    for _ in range(rounds):
        Reminder.objects.filter(status=Reminder.Status.SCHEDULED).update(send_after=timezone.now())
        services.reminders_dispatch(budget_seconds=0)
        services.reminders_poll_backend()
        if not Reminder.objects.filter(status=Reminder.Status.SCHEDULED).exists():
            return


@pytest.mark.django_db
def test_a_refused_part_is_sent_again_alone_and_the_handset_gets_the_whole_text(
    smsc, sms_case, specialist
):
    (reminder,) = _schedule(sms_case, specialist, [LONG])
    assert reminder.parts == 5
    smsc.refuse_parts = {2: (0x08, 1)}  # ESME_RSYSERR once for part 2
    services.reminders_dispatch(budget_seconds=0)
    services.reminders_poll_backend()  # the receipts of parts 1, 3, 4, 5
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.SCHEDULED and "части: 2" in reminder.last_error
    assert sorted(reminder.part_rows.values_list("index", flat=True)) == [1, 3, 4, 5]
    _dispatch_until_settled(smsc)
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.DELIVERED and reminder.attempts == 2
    assert len(smsc.accepted()) == 5  # part 2 once more, nothing else again
    assert smsc.handset_texts() == [LONG.strip()]


@pytest.mark.django_db
def test_a_permanent_refusal_fails_the_sms_with_a_reason_in_words(smsc, sms_case, specialist):
    (reminder,) = _schedule(sms_case, specialist, [LONG])
    smsc.refuse_parts = {3: (0x0B, 1)}  # ESME_RINVDSTADR
    services.reminders_dispatch(budget_seconds=0)
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.FAILED
    assert reminder.last_error == "неверный номер получателя (части: 3)"


@pytest.mark.django_db
def test_one_submit_in_seven_refused_leaves_no_fragment_and_sends_nothing_twice(
    smsc, sms_case, specialist, settings
):
    settings.SMS_MAX_ATTEMPTS = 20
    ids = [r.pk for r in _schedule(sms_case, specialist, [f"{n}. {LONG}" for n in range(30)])]
    smsc.refuse_every = 7
    _dispatch_until_settled(smsc, rounds=40)
    statuses = set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {Reminder.Status.DELIVERED}
    handset = smsc.handset_texts()
    assert len(handset) == 30 and not any(t.startswith("[incomplete]") for t in handset)
    keys = [(s.destination, s.short_message[:6]) for s in smsc.accepted()]
    assert len(keys) == len(set(keys)) == 30 * 5  # each part taken exactly once
    refused = sum(1 for s in smsc.submits if s.status)
    print(
        f"\n1 submit in 7 refused: {len(smsc.submits)} submits, {refused} refused, "
        f"{len(keys)} parts taken once each, 30/30 complete on the handset and delivered"
    )


@pytest.mark.django_db
def test_a_receipt_before_the_sender_recorded_its_answer_is_applied_then(sms_case, specialist):
    """The always-bound receiver may read a receipt before the worker has written which
    message ids the SMSC gave: it is kept, and applied when they are written."""
    from reminders.backends.base import Receipt, SendResult
    from reminders.models import EarlyReceipt

    (reminder,) = _schedule(sms_case, specialist, [LONG])
    Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.SENDING, attempts=1)
    ids = {n: f"M{n}" for n in range(1, 6)}
    services.reminders_record_receipts([Receipt(message_id=m) for m in ids.values()])
    assert EarlyReceipt.objects.count() == 5
    services.reminders_record_results([SendResult(reminder.pk, "sent", "M1", part_ids=ids)])
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.DELIVERED and not EarlyReceipt.objects.exists()


@pytest.mark.django_db
def test_an_smsc_that_throttles_above_its_rate_gets_everything_once_and_no_attempt_is_lost(
    smsc, sms_case, specialist, settings, capsys
):
    """Our ceiling (60/s) above the SMSC's (20/s): it answers ESME_RTHROTTLED, the backend
    halves its rate, the throttled SMS go again shortly without using up their attempts."""
    import time

    settings.SMS_SMPP = {**settings.SMS_SMPP, "MAX_RATE": 60.0}
    settings.SMS_THROTTLE_BACKOFF_SECONDS = 0
    reset_backend()
    smsc.max_rate = 20
    ids = [r.pk for r in _schedule(sms_case, specialist, [f"Текст {n}" for n in range(80)])]
    started = time.monotonic()
    _dispatch_until_settled(smsc, rounds=60)
    elapsed = time.monotonic() - started
    rows = Reminder.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", flat=True)) <= {
        Reminder.Status.SENT,
        Reminder.Status.DELIVERED,
    }
    assert smsc.throttled > 0
    assert max(rows.values_list("attempts", flat=True)) == 1  # throttling is not an attempt
    texts = smsc.accepted_texts()
    assert len(texts) == len(set(texts)) == 80
    with capsys.disabled():
        print(f"\nSMSC at 20/s, ours up to 60/s: 80 SMS in {elapsed:.1f} s, "
              f"{smsc.throttled} throttled answers, {len(texts)} accepted once each")  # fmt: skip
