import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from vio_manager.access import audit
from vio_manager.access.roles import ROLES, role_of, set_role


class Command(BaseCommand):
    help = ("Create a user with a role (admin, operator or viewer) and a generated password, printed once; "
            "for an existing user, set its role.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=ROLES, required=True)

    @transaction.atomic
    def handle(self, *args, username, role, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None:
            before = role_of(user)
            set_role(user, role)
            audit.record(audit.Actor.cli(), "user.set_role", user, {"role": role, "previous_role": before})
            self.stdout.write(f"User '{username}' exists; its role is now {role}. "
                              f"To set a new password: python manage.py changepassword {username}")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, password=password)
        set_role(user, role)
        audit.record(audit.Actor.cli(), "user.create", user, {"role": role})
        self.stdout.write(f"Created '{username}' ({role}) with password: {password}")
        self.stdout.write("This password is shown once; change it with `python manage.py changepassword`.")
