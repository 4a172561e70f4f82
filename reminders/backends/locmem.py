"""For tests: keeps sent messages in `outbox`; outcomes can be scripted per reminder."""

from __future__ import annotations

import uuid
from typing import Literal

from .base import BaseSmsBackend, InboundSms, OutgoingSms, Receipt, SendResult

outbox: list[OutgoingSms] = []
# reminder_id -> outcome to return instead of "sent" (e.g. "retry", "failed", "unknown").
scripted: dict[int, str] = {}
pending_receipts: list[Receipt] = []
pending_inbound: list[InboundSms] = []


def reset() -> None:
    outbox.clear()
    scripted.clear()
    pending_receipts.clear()
    pending_inbound.clear()


class LocmemBackend(BaseSmsBackend):
    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        results = []
        for m in messages:
            outcome = scripted.get(m.reminder_id, "sent")
            if outcome in ("sent", "unknown"):
                outbox.append(m)
            message_id = uuid.uuid4().hex if outcome == "sent" else ""
            error = "" if outcome == "sent" else f"scripted {outcome}"
            # The tests script outcomes as plain strings; each is one of base.Outcome's.
            results.append(SendResult(m.reminder_id, outcome, message_id, error))  # type: ignore[arg-type]  # scripted Outcome
        return results

    def poll(self):
        receipts, inbound = list(pending_receipts), list(pending_inbound)
        pending_receipts.clear()
        pending_inbound.clear()
        return receipts, inbound

    def lookup(self, reference: str) -> Literal["sent", "not_sent"] | None:
        return "sent" if any(m.reference == reference for m in outbox) else "not_sent"
