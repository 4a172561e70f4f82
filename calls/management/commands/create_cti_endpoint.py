"""`python manage.py create_cti_endpoint NAME`: a PBX's push URL; its path is the last line.

The token is shown once (only its digest is kept): put the whole path, after the server's
address, into the PBX's CTI settings (Zammad's "Generic CTI" URL). `--revoke` disables it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from calls.models import CtiEndpoint
from calls.services import cti_endpoint_create, cti_endpoint_revoke


class Command(BaseCommand):
    help = "Create (or revoke) a PBX's CTI push endpoint; prints its path last."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args: Any, name: str, revoke: bool, **options: Any) -> None:
        if revoke:
            n = cti_endpoint_revoke(name=name)
            self.stdout.write(f"Отозвано адресов: {n}")
            return
        if CtiEndpoint.objects.filter(name=name).exists():
            raise CommandError(f"АТС «{name}» уже есть; отзовите её (--revoke) или выберите имя.")
        _endpoint, token = cti_endpoint_create(name=name)
        self.stdout.write(f"АТС «{name}»: адрес для CTI (показывается один раз):")
        self.stdout.write(f"/api/v1/cti/{token}")
