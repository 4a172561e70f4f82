from django.core.management import call_command
from django.core.management.base import BaseCommand

from cases import demo


class Command(BaseCommand):
    help = "Loads demo users, playbooks and cases (once); --cases N adds N cases in bulk."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=0, help="add this many cases in bulk")
        parser.add_argument("--quiet-logins", action="store_true", help="do not print logins")

    def handle(self, *args, cases: int, quiet_logins: bool, **options):
        logins = demo.seed_users()
        made = demo.seed_playbooks()
        self.stdout.write(f"Сценариев создано: {made}")
        if not demo.demo_already_loaded():
            self.stdout.write(f"Демо-обращений создано: {demo.seed_demo_cases()}")
        if cases:
            demo.seed_bulk_cases(cases, log=self.stdout.write)
            # Bulk rows bypass the services; the reports' daily rollup is rebuilt once.
            call_command("reports_rollup_rebuild", stdout=self.stdout)
        if not quiet_logins:
            self.stdout.write(f"Демо-логины (пароль у всех: {demo.DEMO_PASSWORD}):")
            for username, role in logins:
                self.stdout.write(f"  {username:<12} {role}")
