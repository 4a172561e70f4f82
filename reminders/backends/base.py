"""The backend interface. A backend sends a batch and says, per message, what happened:

- sent: the gateway accepted it (message id known);
- retry: the gateway certainly did not take it (connection refused, throttled): safe to resend;
- failed: the gateway refused it for good (bad number, text);
- unknown: it may or may not have gone out (the connection dropped after the request was
  written): a person checks; the dispatcher never resends it by itself;
- throttled: the gateway said "not so fast" (ESME_RTHROTTLED, ESME_RMSGQFUL) and took
  nothing: resent shortly, and not counted as a failed attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["sent", "retry", "failed", "unknown", "throttled"]


@dataclass(frozen=True)
class OutgoingSms:
    reminder_id: int
    msisdn: str  # E.164
    text: str
    reference: str  # our id for the gateway (an idempotency key where the gateway supports it)
    # Parts of a long SMS the gateway already took (1-based): a retry sends only the others.
    done_parts: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SendResult:
    reminder_id: int
    outcome: Outcome
    message_id: str = ""
    error: str = ""
    # Parts the gateway took in this attempt, by index (1-based) → its message id.
    part_ids: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    """A delivery report: by the gateway's message id or by our reference."""

    message_id: str = ""
    reference: str = ""
    delivered: bool = True
    error: str = ""


@dataclass(frozen=True)
class InboundSms:
    msisdn: str
    text: str


class BackendUnavailable(Exception):
    """Nothing was sent: the gateway could not be reached or refused the session."""


class BaseSmsBackend:
    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        raise NotImplementedError

    def poll(self) -> tuple[list[Receipt], list[InboundSms]]:
        """Delivery reports and incoming messages that arrived since the last call."""
        return [], []

    def lookup(self, reference: str) -> Literal["sent", "not_sent"] | None:
        """Ask the gateway whether a message with our reference went out; None: cannot tell."""
        return None

    def close(self) -> None:
        return None
