"""The PBX's push endpoint, tried as a PBX set up for Zammad would: Zammad's documented
examples (form-encoded with user[] repeated, and JSON) posted with a real HTTP client to a
running server, replays and out-of-order events included."""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import call_command

from calls.models import Call, Callback, CallEvent, CtiEndpoint
from calls.services import cti_endpoint_create
from cases.models import StaffProfile, Subscriber

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pbx(live_server):
    _endpoint, token = cti_endpoint_create(name="asterisk-611")
    return f"{live_server.url}/api/v1/cti/{token}"


def _zammad(event: str, call_id: str, **extra) -> dict:
    """An event as Zammad's "Generic CTI" documentation shows it, with Russian numbers."""
    data = {
        "event": event,
        "from": "79161234567",
        "to": "611",
        "direction": "in",
        "callId": call_id,
    }
    data.update(extra)
    return data


def test_the_command_prints_the_path_last_and_only_a_digest_is_kept(live_server):
    out = io.StringIO()
    call_command("create_cti_endpoint", "pbx-2", stdout=out)
    path = out.getvalue().strip().splitlines()[-1]
    assert path.startswith("/api/v1/cti/")
    token = path.rsplit("/", 1)[1]
    endpoint = CtiEndpoint.objects.get(name="pbx-2")
    assert token not in endpoint.token_digest and len(endpoint.token_digest) == 64
    assert requests.post(live_server.url + path, data=_zammad("newCall", "c-0")).json() == {}
    call_command("create_cti_endpoint", "pbx-2", "--revoke", stdout=io.StringIO())
    assert requests.post(live_server.url + path, data=_zammad("newCall", "c-00")).status_code == 404


def test_a_call_answered_by_a_specialist_form_encoded(pbx, specialist):
    StaffProfile.objects.create(user=specialist, cti_extension="201")
    form = [
        ("event", "newCall"), ("from", "89161234567"), ("to", "611"), ("direction", "in"),
        ("callId", "4991155921769858278-1"), ("user[]", "Alice"), ("user[]", "Bob"),
        ("queue", "fraud"),
    ]  # fmt: skip
    first = requests.post(pbx, data=form, timeout=10)
    assert (first.status_code, first.json()) == (200, {})
    # Zammad's PBXs post without a trailing slash; with one works too.
    answer = requests.post(
        pbx + "/",
        data=_zammad("answer", "4991155921769858278-1", user="Alice", answeringNumber="201"),
    )
    assert answer.status_code == 200
    requests.post(
        pbx,
        data=_zammad(
            "hangup", "4991155921769858278-1", cause="normalClearing", answeringNumber="201"
        ),
    )
    call = Call.objects.get(call_id="4991155921769858278-1")
    assert call.msisdn == "+79161234567" and call.subscriber.msisdn == "+79161234567"
    assert (
        call.queue == "fraud" and call.answered_by == specialist and call.cause == "normalClearing"
    )
    assert call.rang_at <= call.answered_at <= call.ended_at
    assert call.wait_seconds is not None and call.talk_seconds is not None
    assert not call.was_missed and not Callback.objects.exists()


def test_json_events_replays_and_out_of_order(pbx, specialist):
    specialist.first_name, specialist.last_name = "Анна", "Смирнова"
    specialist.save()
    post = lambda e: requests.post(pbx, json=e, timeout=10)  # noqa: E731
    # The hangup arrives first, then newCall, then the answer; each twice.
    for event in [_zammad("hangup", "j-1", cause="normalClearing"),
                  _zammad("newCall", "j-1", user=["Анна Смирнова"]),
                  _zammad("answer", "j-1", user=["Анна Смирнова"])] * 2:  # fmt: skip
        assert post(event).status_code == 200
    call = Call.objects.get(call_id="j-1")
    assert CallEvent.objects.filter(call=call).count() == 3
    assert call.answered_by == specialist and call.ended_at and call.answered_at <= call.ended_at
    # Missed first (hangup without answer), then answered: no callback is owed.
    assert not Callback.objects.filter(status__in=["open", "escalated"]).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "ring", "callId": "x"}, "event"),
        ({"event": "newCall"}, "callId"),
        ({"event": "newCall", "callId": "x", "direction": "sideways"}, "direction"),
        ({"event": "newCall", "callId": "x" * 500}, "callId"),
        ({"event": "newCall", "callId": "x\x00y"}, "callId"),
    ],
)
def test_a_malformed_event_is_a_400_with_the_fields_message(pbx, body, field):
    response = requests.post(pbx, json=body, timeout=10)
    assert response.status_code == 400 and field in response.json()


def test_a_wrong_token_is_404_and_a_non_object_body_400(pbx, live_server):
    assert (
        requests.post(f"{live_server.url}/api/v1/cti/nope", data={"event": "newCall"}).status_code
        == 404
    )
    assert (
        requests.post(pbx, data=b"[1,2]", headers={"Content-Type": "application/json"}).status_code
        == 400
    )


def test_missed_calls_make_one_callback_per_subscriber(pbx):
    for n in range(3):
        requests.post(pbx, data=_zammad("newCall", f"m-{n}"))
        requests.post(pbx, data=_zammad("hangup", f"m-{n}", cause="cancel"))
    callback = Callback.objects.get()
    assert callback.status == "open" and callback.missed_calls == 3
    assert Call.objects.filter(callback=callback).count() == 3
    # Anonymous: counted as a missed call, no callback (no number to call).
    requests.post(pbx, data=_zammad("newCall", "anon", **{"from": "anonymous"}))
    requests.post(pbx, data=_zammad("hangup", "anon", cause="cancel", **{"from": "anonymous"}))
    anon = Call.objects.get(call_id="anon")
    assert anon.was_missed and anon.msisdn == "" and Callback.objects.count() == 1
    # The subscriber gets through: the callback is done.
    requests.post(pbx, data=_zammad("newCall", "ok"))
    requests.post(pbx, data=_zammad("answer", "ok"))
    callback.refresh_from_db()
    assert callback.status == "reached"


def test_an_outbound_call_to_that_number_is_an_attempt(pbx, specialist):
    requests.post(pbx, data=_zammad("newCall", "in-1"))
    requests.post(pbx, data=_zammad("hangup", "in-1", cause="noAnswer"))
    out = {"from": "611", "to": "+7 916 123-45-67", "direction": "out"}
    requests.post(pbx, data=_zammad("newCall", "out-1", **out))
    requests.post(pbx, data=_zammad("hangup", "out-1", cause="busy", **out))
    callback = Callback.objects.get()
    assert [a.result for a in callback.attempts.all()] == ["busy"]
    requests.post(pbx, data=_zammad("newCall", "out-2", **out))
    requests.post(pbx, data=_zammad("answer", "out-2", **out))
    requests.post(pbx, data=_zammad("hangup", "out-2", cause="normalClearing", **out))
    callback.refresh_from_db()
    assert callback.status == "reached" and callback.attempts.count() == 2
    assert Subscriber.objects.filter(msisdn="+79161234567").count() == 1
