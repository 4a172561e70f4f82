"""The `make run` default: prints each SMS to the worker's output, never a phone number."""

from __future__ import annotations

import sys
import uuid

from fraudcenter.logging import mask_phones
from playbooks.sms_text import sms_parts

from .base import BaseSmsBackend, OutgoingSms, Receipt, SendResult


class ConsoleBackend(BaseSmsBackend):
    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self._receipts: list[Receipt] = []

    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        results = []
        for m in messages:
            message_id = uuid.uuid4().hex
            chars, parts = sms_parts(m.text)
            masked = m.msisdn[:-7] + "*****" + m.msisdn[-2:]
            self.stream.write(
                f"[SMS] reminder={m.reminder_id} to={masked} parts={parts} chars={chars}\n"
                f"{mask_phones(m.text)}\n{'-' * 40}\n"
            )
            results.append(SendResult(m.reminder_id, "sent", message_id=message_id))
            # The console "delivers" at once, so the timeline shows the whole life of an SMS.
            self._receipts.append(Receipt(message_id=message_id))
        self.stream.flush()
        return results

    def poll(self):
        receipts, self._receipts = self._receipts, []
        return receipts, []
