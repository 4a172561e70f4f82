from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from intel.services import identifiers_recount


class Command(BaseCommand):
    help = (
        "Recount every identifier's distinct reporters and candidates from its links (after a "
        "bulk load that bypassed the per-report counting)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"identifiers recounted: {identifiers_recount()}")
