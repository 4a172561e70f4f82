from django.core.management.base import BaseCommand

from reports.rollup import rollup_rebuild


class Command(BaseCommand):
    help = "Recomputes the reports' daily rollup for every day (after a bulk load)."

    def handle(self, *args, **options):
        days = rollup_rebuild()
        self.stdout.write(f"Сводка отчётов пересчитана: дней {days}")
