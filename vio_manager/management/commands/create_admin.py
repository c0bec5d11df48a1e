import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from vio_manager.access import audit
from vio_manager.access.roles import ADMIN, set_role


class Command(BaseCommand):
    help = "Create the administrator account with a generated password, printed once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"User '{username}' exists; its password was printed when it was created. "
                f"To set a new one: python manage.py changepassword {username}"
            )
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        set_role(user, ADMIN)  # a superuser is an admin anyway; the group shows it
        audit.record(audit.Actor.cli(), "user.create", user, {"role": ADMIN})
        self.stdout.write(f"Created '{username}' with password: {password}")
        self.stdout.write("This password is shown once; change it with `python manage.py changepassword`.")
