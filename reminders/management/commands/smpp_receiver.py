"""smpp_receiver: the always-bound SMPP receiver (reminders/receiver.py). With any other
SMS_BACKEND it says so and waits, so one Procfile serves every setting."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from reminders.receiver import SmppReceiver
from reminders.services import reminders_record_incoming


class Command(BaseCommand):
    help = "Keep an SMPP receiver bound: delivery receipts and «СТОП» at any time."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if not settings.SMS_BACKEND.endswith("SmppBackend"):
            self.stdout.write("SMS_BACKEND is not smpp: no receiver needed; idle.")
            stop.wait()
            return
        receiver = SmppReceiver(
            conf=settings.SMS_SMPP,
            record=reminders_record_incoming,
            enquire_every=settings.SMS_SMPP_ENQUIRE_LINK_SECONDS,
            stop=stop,
        )
        self.stdout.write(
            f"SMPP receiver for {settings.SMS_SMPP['HOST']}:{settings.SMS_SMPP['PORT']}"
        )
        receiver.run()
