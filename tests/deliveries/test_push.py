"""Server push (deliveries/push.py, deliveries/push_server.py): a real push server and a
private Redis; the hints reach only the pages whose signed topics name them."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import time
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from calls.services import cti_endpoint_create
from cases.models import StaffProfile
from deliveries import push


class Stream:
    """An EventSource as a test sees it: the status, then the events' names (keepalive
    comments skipped)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        self.sock.sendall(f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(head.split()[1])

    def events(self, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        self.sock.settimeout(0.1)
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                self.buffer += self.sock.recv(4096)
        lines, self.buffer = self.buffer.split(b"\n"), b""
        return [ln[7:].decode().strip() for ln in lines if ln.startswith(b"event: ")]

    def close(self) -> None:
        self.sock.close()


def _chat_line(integration, case, external_id: str):
    """The chat backend posts a subscriber's line (the API, as the chat backend calls it)."""
    api = APIClient()
    api.force_authenticate(integration)
    body = {"external_id": external_id, "author": "subscriber", "text": "Мне звонили",
            "sent_at": timezone.now().isoformat()}  # fmt: skip
    return api.post(f"/api/v1/cases/{case.pk}/messages/", body, format="json")


def test_a_push_url_names_its_topics_signed_and_nothing_forged_or_expired_passes(settings):
    settings.PUSH_URL, settings.PUSH_REDIS_URL = "/push/", "redis://127.0.0.1:1/0"
    token = push.url_for(["pop:1", "case:2"]).split("?t=", 1)[1]
    assert push.verify(token) == ["case:2", "pop:1"]
    other = push.sign(["pop:2"])
    assert push.verify(other.split(":")[0] + token[len(token.split(":")[0]) :]) is None
    assert push.verify("pop:1") is None
    settings.PUSH_TOKEN_MAX_AGE = -1
    assert push.verify(token) is None


def test_without_push_settings_the_pages_poll_as_before(client, specialist):
    client.force_login(specialist)
    html = client.get("/cases/mine/").content.decode()
    assert 'id="screen-pop"' in html and 'hx-trigger="every 1s"' in html
    assert "data-push-url" not in html


def test_with_push_on_the_pages_listen_and_poll_only_slowly(
    push_server, client, specialist, make_case
):
    client.force_login(specialist)
    html = client.get("/cases/mine/").content.decode()
    assert 'hx-trigger="push, every 120s"' in html
    [url] = re.findall(r'data-push-url="([^"]+)"', html)
    assert push.verify(url.split("?t=", 1)[1]) == [f"pop:{specialist.pk}"]
    case = make_case(channel="chat")
    html = client.get(f"/cases/{case.pk}/").content.decode()
    [url] = re.findall(r'data-push-url="([^"]+)"', html)
    assert push.verify(url.split("?t=", 1)[1]) == [f"case:{case.pk}", f"pop:{specialist.pk}"]


def test_a_forged_push_url_is_refused(push_server):
    stream = Stream(push_server.url + "?t=forged")
    assert stream.status == 403
    stream.close()


def test_an_answered_call_tells_the_answering_specialists_pages_only(
    push_server, client, specialist, specialist2, django_capture_on_commit_callbacks
):
    StaffProfile.objects.update_or_create(user=specialist, defaults={"cti_extension": "201"})
    _endpoint, token = cti_endpoint_create(name="pbx")
    mine = Stream(push.url_for([f"pop:{specialist.pk}"]))
    theirs = Stream(push.url_for([f"pop:{specialist2.pk}"]))
    assert mine.status == theirs.status == 200
    call = {"from": "89035550101", "to": "611", "direction": "in", "callId": "push-1"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/v1/cti/{token}", {**call, "event": "newCall"})
    assert mine.events(0.5) == []  # ringing is nobody's screen pop yet
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/v1/cti/{token}", {**call, "event": "answer", "answeringNumber": "201"})
    assert mine.events(2) == ["pop"]
    assert theirs.events(0.5) == []
    client.force_login(specialist)
    assert client.get("/calls/pop/").status_code == 200  # what the page then fetches
    mine.close()
    theirs.close()


def test_a_subscribers_chat_line_tells_that_case_page(
    push_server, make_case, integration, django_capture_on_commit_callbacks
):
    case, other = make_case(channel="chat"), make_case(channel="chat")
    watching = Stream(push.url_for([f"case:{case.pk}"]))
    elsewhere = Stream(push.url_for([f"case:{other.pk}"]))
    with django_capture_on_commit_callbacks(execute=True):
        assert _chat_line(integration, case, "m-1").status_code == 201
    assert watching.events(2) == ["case"]
    with django_capture_on_commit_callbacks(execute=True):  # the same line again: nothing new
        assert _chat_line(integration, case, "m-1").status_code == 200
    assert watching.events(0.5) == [] and elsewhere.events(0.2) == []
    watching.close()
    elsewhere.close()


def test_a_lost_redis_costs_hints_not_writes(
    settings, client, specialist, make_case, integration, django_capture_on_commit_callbacks
):
    """Push on but its Redis gone: the chat line is saved; the page's slow poll shows it."""
    settings.PUSH_URL, settings.PUSH_REDIS_URL = "/push/", "redis://127.0.0.1:1/0"
    push._client = None
    case = make_case(channel="chat")
    with django_capture_on_commit_callbacks(execute=True):
        assert _chat_line(integration, case, "m-2").status_code == 201
    assert case.messages.count() == 1
    push._client = None


@pytest.mark.parametrize("path", ["/other/", "/push/x"])
def test_other_paths_are_not_found(push_server, path):
    parts = urlsplit(push_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", path)
    assert conn.getresponse().status == 404
    conn.close()
