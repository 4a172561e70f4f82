"""create_integration NAME: the service account of an integration (telephony line, chat
backend; with --blocking, the operator's blocking system that reads the identifier feed) and
a new API token for it. The token is shown once, as the last line of the
output; only its hash is stored. --revoke deletes every token of the account."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from knox.models import AuthToken

from cases.roles import Role


class Command(BaseCommand):
    help = "Create an integration's service account and print a new API token (last line)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="account name, e.g. telephony-611 or chat-backend")
        parser.add_argument(
            "--blocking",
            action="store_true",
            help="a blocking system: may read the feed of identifiers, nothing else",
        )
        parser.add_argument(
            "--revoke",
            action="store_true",
            help="delete all tokens of this integration instead of issuing a new one",
        )

    def handle(self, *args, name: str, revoke: bool, blocking: bool = False, **options):
        role = Role.BLOCKING if blocking else Role.INTEGRATION
        if revoke:
            user = User.objects.filter(
                username=name, groups__name__in=[Role.INTEGRATION, Role.BLOCKING]
            ).first()
            if user is None:
                raise CommandError(f"No integration named {name!r}.")
            deleted, _ = AuthToken.objects.filter(user=user).delete()
            self.stdout.write(f"Revoked {deleted} token(s) of integration {name!r}.")
            return
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=name)
            if created:
                user.set_unusable_password()  # a machine: tokens only, never the login page
                user.save(update_fields=["password"])
            elif user.is_staff or user.groups.exclude(name=role).exists():
                raise CommandError(f"{name!r} is another kind of account, not a {role!r} one.")
            user.groups.add(Group.objects.get(name=role))
            _instance, token = AuthToken.objects.create(user=user)
        what = "Created integration" if created else "New token for integration"
        self.stdout.write(f"{what} {name!r}. Send it as: Authorization: Token <token>")
        self.stdout.write(token)
