"""anonymise_expired [--dry-run] [--batch N]: what the nightly beat job does, by hand.

Anonymises closed cases older than PD_RETENTION_DAYS (see cases/retention.py) and prints
counts only."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.retention import cases_anonymise_expired


class Command(BaseCommand):
    help = "Anonymise closed cases older than PD_RETENTION_DAYS (personal data lifecycle)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be anonymised, change nothing"
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=None,
            help=f"cases per transaction (default {settings.PD_ANONYMISE_BATCH})",
        )

    def handle(self, *args, dry_run: bool, batch: int | None, **options):
        if batch is not None and batch <= 0:
            raise CommandError("--batch must be a positive number.")
        result = cases_anonymise_expired(batch_size=batch, dry_run=dry_run)
        days = settings.PD_RETENTION_DAYS
        if dry_run:
            self.stdout.write(
                f"Dry run: {result.cases} case(s) closed more than {days} days ago and "
                f"{result.subscribers} subscriber(s) would be anonymised. Nothing changed."
            )
        else:
            self.stdout.write(
                f"Anonymised {result.cases} case(s) closed more than {days} days ago and "
                f"{result.subscribers} subscriber(s) in {result.batches} batch(es)."
            )
