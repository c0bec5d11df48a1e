"""manage.py cancel DEPLOYMENT: cooperative cancel, as on the page and in the API."""

from django.core.management.base import BaseCommand, CommandError

from deployments.services.run_actions import Refused, cancel
from deployments.management import cli


class Command(BaseCommand):
    help = "Cancel a deployment's queued or running run: running steps finish, no new step starts (exit 1 if refused)."

    def add_arguments(self, parser):
        parser.add_argument("deployment", help="its id or name")

    def handle(self, *args, **options):
        deployment = cli.find_deployment(options["deployment"])
        try:
            run = cancel(deployment)
        except Refused as exc:
            raise CommandError(f"Not stopped: {exc}") from None
        cli.audit("deployment.cancel", deployment, {"run": run.number})
        self.stdout.write(f"Stopping run {run.number} of {deployment.name}: running steps finish, no new step starts.")
