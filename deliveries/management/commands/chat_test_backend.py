from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from deliveries.receiver import ChatBackend


class Command(BaseCommand):
    help = (
        "Test chat backend for local runs: verifies fraudcenter's signed webhooks, keeps each "
        "webhook-id once, prints what arrives (see deliveries/receiver.py for its controls)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025)
        parser.add_argument("--secret", default=settings.CHAT_WEBHOOK_SECRET)

    def handle(self, *args: Any, host: str, port: int, secret: str, **options: Any) -> None:
        if not secret:
            raise CommandError("No secret: set CHAT_WEBHOOK_SECRET or pass --secret whsec_…")
        backend = ChatBackend(secret, host, port).start()
        self.stdout.write(f"test chat backend on {backend.url}", ending="\n")
        self.stdout.flush()
        shown = 0
        try:
            while True:
                time.sleep(0.5)
                accepted = backend.accepted()
                for record in accepted[shown:]:
                    data = record.body.get("data", {})
                    line = {"webhook-id": record.webhook_id, "case": data.get("case_number"),
                            "author": data.get("author", {}).get("name")}  # fmt: skip
                    self.stdout.write(json.dumps(line, ensure_ascii=False))
                    self.stdout.flush()
                shown = len(accepted)
        except KeyboardInterrupt:
            pass
        finally:
            backend.stop()
