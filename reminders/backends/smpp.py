"""SMPP 3.4 over smpplib: one bound transceiver session per worker process.

Each SMS goes as GSM 03.38 (data_coding 0) when every character fits it, else UCS-2
(data_coding 8), split by playbooks.sms_text.sms_split — the same split the staff page
counts and the reminder stores — into parts with a UDH concatenation header. Only the first
part asks for a delivery receipt, and its message id (from submit_sm_resp) is the one we keep.
Receipts and incoming messages (deliver_sm) arrive on the same session and are read while
waiting for responses and by poll()."""

from __future__ import annotations

import contextlib
import logging
import random
import time
from dataclasses import dataclass, field

import smpplib.client
import smpplib.consts as c
import smpplib.exceptions
import smpplib.gsm
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.phones import normalize_msisdn
from playbooks.sms_text import sms_split

from .base import (
    BackendUnavailable,
    BaseSmsBackend,
    InboundSms,
    OutgoingSms,
    Receipt,
    SendResult,
)

logger = logging.getLogger(__name__)

# submit_sm_resp statuses that mean "not now": the message was not taken, try again later.
TRANSIENT_STATUSES = {
    c.SMPP_ESME_RSYSERR,
    c.SMPP_ESME_RMSGQFUL,
    c.SMPP_ESME_RTHROTTLED,
    0x00000064,  # ESME_RX_T_APPN: temporary application error
}
# "Not so fast": the SMSC's flow control, routine at a busy hour; not a failure of the SMS.
THROTTLE_STATUSES = {c.SMPP_ESME_RTHROTTLED, c.SMPP_ESME_RMSGQFUL}
ESM_DELIVERY_RECEIPT = 0x04  # esm_class bits 2-5: SMSC delivery receipt
DELIVERED_STATE = 2  # message_state DELIVERED
FAILED_STATES = {3, 5, 8}  # EXPIRED, UNDELIVERABLE, REJECTED


@dataclass
class _Pending:
    sms: OutgoingSms
    parts: int  # in the whole SMS
    written: int = 0  # parts submitted in this attempt
    accepted: dict[int, str] = field(default_factory=dict)  # index → message id
    refused: dict[int, int] = field(default_factory=dict)  # index → status


# What a permanent refusal means, for the person reading the SMS panel.
REFUSALS = {
    c.SMPP_ESME_RINVDSTADR: gettext_lazy("неверный номер получателя"),
    c.SMPP_ESME_RINVSRCADR: gettext_lazy("неверное имя отправителя"),
    c.SMPP_ESME_RINVMSGLEN: gettext_lazy("неверная длина сообщения"),
    c.SMPP_ESME_RSUBMITFAIL: gettext_lazy("оператор отказал в отправке"),
    0x00000104: gettext_lazy("неверная кодировка"),  # ESME_RINVDCS
    c.SMPP_ESME_RINVESMCLASS: gettext_lazy("неверный тип сообщения"),
}


def refusal_reason(status: int) -> str:
    if status in REFUSALS:
        return str(REFUSALS[status])
    return str(_("оператор отказал (код %(code)s)") % {"code": f"{status:#x}"})


class SmppBackend(BaseSmsBackend):
    def __init__(self) -> None:
        conf = settings.SMS_SMPP
        self.host: str = conf["HOST"]
        self.port: int = int(conf["PORT"])
        self.system_id: str = conf["SYSTEM_ID"]
        self.password: str = conf["PASSWORD"]
        self.source_addr: str = conf["SOURCE_ADDR"]
        self.timeout: float = float(conf["TIMEOUT"])
        self.window: int = int(conf["WINDOW"])
        # Submits per second on this bind: the configured ceiling, halved on each throttling
        # answer and won back a little with every accepted submit (AIMD).
        self.max_rate: float = float(conf.get("MAX_RATE", 30))
        self.rate: float = self.max_rate
        self._next_submit = 0.0
        self.client: smpplib.client.Client | None = None
        self._receipts: list[Receipt] = []
        self._inbound: list[InboundSms] = []
        self._by_seq: dict[int, tuple[_Pending, int]] = {}
        self._last_io = 0.0

    # --- session ------------------------------------------------------------------------------

    def _connect(self) -> smpplib.client.Client:
        client = smpplib.client.Client(
            self.host, self.port, timeout=self.timeout, allow_unknown_opt_params=True
        )
        client.set_message_sent_handler(self._on_submit_resp)
        client.set_message_received_handler(self._on_deliver)
        client.set_error_pdu_handler(lambda pdu: None)  # submit_sm_resp errors: handled per SMS
        try:
            client.connect()
            client.bind_transceiver(system_id=self.system_id, password=self.password)
        except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as exc:
            self._drop(client)
            raise BackendUnavailable(f"SMPP bind failed: {exc}") from exc
        self._last_io = time.monotonic()
        return client

    def _drop(self, client: smpplib.client.Client | None = None) -> None:
        client = client or self.client
        if client is not None:
            with contextlib.suppress(Exception):  # the socket is being thrown away anyway
                client.disconnect()
        if client is self.client:
            self.client = None

    def _session(self) -> smpplib.client.Client:
        """A live session: read whatever is waiting; if the SMSC hung up, bind again."""
        if self.client is not None:
            try:
                self._drain()
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError):
                self._drop()
        if self.client is None:
            self.client = self._connect()
        return self.client

    def _drain(self) -> None:
        assert self.client is not None
        self.client.poll(auto_send_enquire_link=False)

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.unbind()
            self._drop()

    # --- PDUs in --------------------------------------------------------------------------------

    def _on_submit_resp(self, pdu, **kwargs) -> None:
        entry = self._by_seq.pop(pdu.sequence, None)
        if entry is None:
            return
        pending, index = entry  # index: 1-based part number
        if pdu.status in THROTTLE_STATUSES:
            self.rate = max(self.rate / 2, 1.0)
        elif pdu.status == c.SMPP_ESME_ROK:
            self.rate = min(self.rate + 1.0, self.max_rate)
        if pdu.status == c.SMPP_ESME_ROK:
            mid = pdu.message_id
            pending.accepted[index] = mid.decode() if isinstance(mid, bytes) else str(mid)
        else:
            pending.refused[index] = int(pdu.status)

    def _on_deliver(self, pdu, **kwargs) -> int:
        item = parse_deliver(pdu)
        if isinstance(item, Receipt):
            self._receipts.append(item)
        else:
            self._inbound.append(item)
        return c.SMPP_ESME_ROK

    # --- sending --------------------------------------------------------------------------------

    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        client = self._session()  # raises BackendUnavailable: nothing was sent
        pendings: list[_Pending] = []
        not_written: list[OutgoingSms] = []
        broken = ""
        self._by_seq.clear()
        for i, sms in enumerate(messages):
            # The UDH reference follows the reminder, so a re-submitted part joins the others.
            parts, encoding, esm_class = encode_parts(sms.text, reference=sms.reminder_id % 256)
            todo = [n for n in range(1, len(parts) + 1) if n not in sms.done_parts]
            pending = _Pending(sms, len(parts))
            pendings.append(pending)
            try:
                for index in todo:
                    while len(self._by_seq) >= self.window:
                        client.read_once(auto_send_enquire_link=False)
                    self._pace()
                    pdu = client.send_message(
                        source_addr_ton=c.SMPP_TON_ALNUM,
                        source_addr_npi=c.SMPP_NPI_UNK,
                        source_addr=self.source_addr,
                        dest_addr_ton=c.SMPP_TON_INTL,
                        dest_addr_npi=c.SMPP_NPI_ISDN,
                        destination_addr=sms.msisdn.lstrip("+"),
                        short_message=parts[index - 1],
                        data_coding=encoding,
                        esm_class=esm_class,
                        registered_delivery=1,  # a receipt for every part
                    )
                    self._by_seq[pdu.sequence] = (pending, index)
                    pending.written += 1
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as e:
                # sendall failed: the SMSC had already hung up, so it did not read this PDU.
                # Parts already written (and unanswered) make their SMS "unknown" below.
                broken = f"SMPP connection lost while sending: {e!r}"
                if not pending.written:
                    pendings.remove(pending)
                not_written = list(messages[i + 1 :]) if pending.written else list(messages[i:])
                break
        if not broken:
            try:
                while self._by_seq:
                    client.read_once(auto_send_enquire_link=False)
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as e:
                broken = f"no submit_sm_resp (SMSC slow or connection lost): {e!r}"
        if broken:
            logger.warning("SMPP session dropped: %s", broken)
            self._drop()
        self._last_io = time.monotonic()
        results = [self._result(p, broken) for p in pendings]
        results += [SendResult(m.reminder_id, "retry", error=broken) for m in not_written]
        self._by_seq.clear()
        return results

    def _pace(self) -> None:
        """At most `rate` submits a second on this bind (SMS_SMPP_MAX_RATE)."""
        now = time.monotonic()
        if self._next_submit > now:
            time.sleep(self._next_submit - now)
            now = self._next_submit
        self._next_submit = now + 1.0 / self.rate

    @staticmethod
    def _result(p: _Pending, broken: str) -> SendResult:
        """The SMS as one unit: sent when every part is taken (now or before); a temporary
        refusal (or a part the broken session never wrote) is a retry of the missing parts
        only; a permanent refusal fails it with the reason in words."""
        rid, taken = p.sms.reminder_id, dict(p.accepted)
        first = taken.get(1, "")
        if p.written > len(p.accepted) + len(p.refused):
            # A part was written and never answered: the SMSC may have taken it.
            return SendResult(rid, "unknown", first, broken, part_ids=taken)
        missing = sorted(set(range(1, p.parts + 1)) - set(p.sms.done_parts) - set(taken))
        if not missing:
            return SendResult(rid, "sent", first, part_ids=taken)
        which = ", ".join(str(n) for n in missing)
        statuses = sorted(set(p.refused.values()))
        permanent = [s for s in statuses if s not in TRANSIENT_STATUSES | THROTTLE_STATUSES]
        if permanent:
            reason = refusal_reason(permanent[0])
            error = _("%(reason)s (части: %(parts)s)") % {"reason": reason, "parts": which}
            return SendResult(rid, "failed", first, str(error), taken)
        desc = ", ".join(f"{s:#x} {c.DESCRIPTIONS.get(s, '')}".strip() for s in statuses)
        error = f"SMSC status {desc} (части: {which})" if statuses else broken
        if statuses and all(s in THROTTLE_STATUSES for s in statuses):
            return SendResult(rid, "throttled", first, error, taken)
        return SendResult(rid, "retry", first, error, taken)

    def poll(self):
        if self.client is not None:
            try:
                self._drain()
                if time.monotonic() - self._last_io > 30:
                    self.client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=self.client))
                    self._last_io = time.monotonic()
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError):
                self._drop()
        receipts, self._receipts = self._receipts, []
        inbound, self._inbound = self._inbound, []
        return receipts, inbound


def parse_deliver(pdu) -> Receipt | InboundSms:
    """A deliver_sm: a delivery receipt (esm_class bit 2) or a subscriber's message."""
    text = pdu.short_message or b""
    if pdu.esm_class & ESM_DELIVERY_RECEIPT:
        mid = getattr(pdu, "receipted_message_id", None)
        state = getattr(pdu, "message_state", None)
        body = text.decode("latin-1", "replace")
        if not mid:
            mid = _receipt_field(body, "id")
        if state is None:
            stat = _receipt_field(body, "stat")
            state = DELIVERED_STATE if stat == "DELIVRD" else 5
        mid = mid.decode() if isinstance(mid, bytes) else str(mid)
        return Receipt(
            message_id=mid,
            delivered=state == DELIVERED_STATE,
            error="" if state == DELIVERED_STATE else f"message_state={state}",
        )
    source = pdu.source_addr.decode() if isinstance(pdu.source_addr, bytes) else ""
    decoded = (
        text.decode("utf-16-be", "replace")
        if pdu.data_coding == c.SMPP_ENCODING_ISO10646
        else text.decode("latin-1", "replace")
    )
    ton = getattr(pdu, "source_addr_ton", c.SMPP_TON_INTL)
    return InboundSms(msisdn=inbound_msisdn(source, ton), text=decoded)


def inbound_msisdn(source: str, ton: int) -> str:
    """The sender of an inbound SMS as E.164, by its type of number: international as it is;
    national and unknown ("89995200000", "79995200000", "9995200000") through the Russian
    rules; anything else (a short code, letters) kept as digits with a plus."""
    digits = source.strip().lstrip("+")
    if ton == c.SMPP_TON_INTL:
        return "+" + digits
    try:
        return normalize_msisdn(digits)
    except ValidationError:
        return "+" + digits


def encode_parts(text: str, reference: int | None = None) -> tuple[list[bytes], int, int]:
    """(short_message of each part, data_coding, esm_class) for sms_split(text): GSM 03.38 as
    unpacked septets (an extension character is escape + code, two octets, as it counts two),
    or UTF-16BE; a long SMS gets the 8-bit-reference concatenation UDH on each part."""
    split = sms_split(text)
    if split.encoding == "gsm7":
        data_coding, encode = c.SMPP_ENCODING_DEFAULT, smpplib.gsm.gsm_encode
    else:
        data_coding, encode = c.SMPP_ENCODING_ISO10646, _ucs2
    bodies = [encode(part) for part in split.parts]
    if len(bodies) == 1:
        return bodies, data_coding, c.SMPP_MSGTYPE_DEFAULT
    reference = random.randint(0, 255) if reference is None else reference
    udh = [bytes([5, 0, 3, reference, len(bodies), n]) for n in range(1, len(bodies) + 1)]
    return [h + b for h, b in zip(udh, bodies, strict=True)], data_coding, c.SMPP_GSMFEAT_UDHI


def _ucs2(text: str) -> bytes:
    return text.encode("utf-16-be")


def _receipt_field(body: str, name: str) -> str:
    for token in body.split():
        if token.lower().startswith(name + ":"):
            return token.split(":", 1)[1]
    return ""
