"""The always-bound SMPP receiver (`python manage.py smpp_receiver`): a process of its own
that keeps a bind_receiver session open, so delivery receipts and «СТОП» are read at any
time — not only while a worker happens to be sending.

It answers the SMSC's enquire_link and sends its own when the line is quiet, binds again
with backoff (1, 2, 4 … 60 s) after any drop, and records each deliver_sm as it arrives; a
message it could not record is answered with a temporary error, so the SMSC sends it again."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import smpplib.client
import smpplib.consts as c
import smpplib.exceptions
import smpplib.smpp

from .backends.base import InboundSms, Receipt
from .backends.smpp import parse_deliver

logger = logging.getLogger(__name__)
ESME_RX_T_APPN = 0x00000064  # temporary application error: the SMSC retries the deliver_sm


class SmppReceiver:
    def __init__(
        self,
        *,
        conf: dict,
        record: Callable[[Receipt | InboundSms], None],
        enquire_every: float = 30.0,
        max_backoff: float = 60.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.conf, self.record = conf, record
        self.enquire_every, self.max_backoff = enquire_every, max_backoff
        self.stop = stop or threading.Event()
        self.binds = 0
        self.received = 0

    def _on_deliver(self, pdu, **kwargs) -> int:
        try:
            self.record(parse_deliver(pdu))
        except Exception:
            logger.exception("deliver_sm not recorded; the SMSC will send it again")
            return ESME_RX_T_APPN
        self.received += 1
        return c.SMPP_ESME_ROK

    def _bind(self) -> smpplib.client.Client:
        client = smpplib.client.Client(
            self.conf["HOST"], int(self.conf["PORT"]), timeout=1.0, allow_unknown_opt_params=True
        )
        client.set_message_received_handler(self._on_deliver)
        client.set_error_pdu_handler(lambda pdu: None)
        client.connect()
        client.bind_receiver(system_id=self.conf["SYSTEM_ID"], password=self.conf["PASSWORD"])
        self.binds += 1
        logger.info("SMPP receiver bound to %s:%s", self.conf["HOST"], self.conf["PORT"])
        return client

    def run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                client = self._bind()
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as e:
                logger.warning("SMPP receiver bind failed (%s); again in %.0f s", e, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 1.0
            try:
                self._listen(client)
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as e:
                logger.warning("SMPP receiver lost the session (%s); binding again", e)
            finally:
                with contextlib.suppress(Exception):
                    client.disconnect()

    def _listen(self, client: smpplib.client.Client) -> None:
        last_io = time.monotonic()
        while not self.stop.is_set():
            try:
                client.read_once(auto_send_enquire_link=False)
                last_io = time.monotonic()
            except TimeoutError:
                if time.monotonic() - last_io >= self.enquire_every:
                    client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
                    last_io = time.monotonic()
        with contextlib.suppress(Exception):
            client.unbind()
