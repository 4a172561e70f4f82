from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from deliveries.push_server import run


class Command(BaseCommand):
    help = (
        "The push server for the staff pages (Server-Sent Events; deliveries/push.py): one "
        "process holds every open page's connection and tells it when to look again."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8030)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if not settings.PUSH_REDIS_URL:
            raise CommandError("Set PUSH_REDIS_URL (a Redis the web processes publish to).")
        # The path the pages use (PUSH_URL may name another host: the proxy's).
        path = urlsplit(settings.PUSH_URL or "/push/").path
        asyncio.run(run(host, port, path))
