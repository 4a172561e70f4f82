"""A generic HTTP gateway: one JSON POST per SMS.

Request:  POST SMS_HTTP_URL  {"to": "+7...", "text": "...", "reference": "fc-123"}
          header X-Fraudcenter-Secret: SMS_HTTP_SECRET
Answer:   2xx {"message_id": "..."}; 4xx: refused for good; 429/5xx: not taken, try later.
Delivery reports come back to /sms/http/dlr/ (see reminders.views) with the same secret.
The reference is stable across retries, so a gateway that deduplicates by it makes a resend
safe."""

from __future__ import annotations

import requests
from django.conf import settings

from .base import BaseSmsBackend, OutgoingSms, SendResult


class HttpGatewayBackend(BaseSmsBackend):
    def __init__(self) -> None:
        self.url: str = settings.SMS_HTTP_URL
        self.secret: str = settings.SMS_HTTP_SECRET
        self.timeout: float = float(settings.SMS_HTTP_TIMEOUT)
        self.session = requests.Session()

    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        return [self._send(m) for m in messages]

    def _send(self, m: OutgoingSms) -> SendResult:
        try:
            response = self.session.post(
                self.url,
                json={"to": m.msisdn, "text": m.text, "reference": m.reference},
                headers={"X-Fraudcenter-Secret": self.secret},
                timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.ConnectTimeout) as exc:
            if isinstance(exc, requests.ReadTimeout) or "RemoteDisconnected" in repr(exc):
                return SendResult(m.reminder_id, "unknown", error=f"no answer: {exc!r}"[:500])
            return SendResult(m.reminder_id, "retry", error=f"connect failed: {exc!r}"[:500])
        except requests.ReadTimeout as exc:
            return SendResult(m.reminder_id, "unknown", error=f"no answer: {exc!r}"[:500])
        code = response.status_code
        if 200 <= code < 300:
            try:
                message_id = str(response.json().get("message_id", ""))
            except ValueError:
                message_id = ""
            return SendResult(m.reminder_id, "sent", message_id=message_id[:128])
        error = f"HTTP {code}: {response.text[:200]}"
        if code == 429 or code >= 500:
            return SendResult(m.reminder_id, "retry", error=error)
        return SendResult(m.reminder_id, "failed", error=error)

    def close(self) -> None:
        self.session.close()
